"""Which adapter a scheduler's GPU is.

Ray (like Slurm and Kubernetes' device plugins) hands a worker its GPUs as CUDA ordinals, through
``ray.get_gpu_ids()`` and ``CUDA_VISIBLE_DEVICES``. Vulkan ignores that variable: every process
sees every GPU. So the ordinals are mapped onto wgpu's adapters here — by PCI bus id, which
Vulkan and DX12 report and ``nvidia-smi`` lists against each ordinal — so that two actors on a
two-GPU host open two different GPUs. Pure functions over plain data: tested without GPUs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any, Mapping, Sequence

# Backends in the order their adapters are preferred when one GPU shows on several.
_BACKENDS = ("vulkan", "dx12", "metal", "gl")


def normalize_pci(bus_id: str) -> str | None:
    """A PCI bus id in one spelling, "dddd:bb:dd.f" in lowercase hex, or None when it is not
    one (wgpu writes a 4-digit domain, nvidia-smi an 8-digit one)."""
    m = re.fullmatch(r"\s*(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])\s*", bus_id or "")
    if not m:
        return None
    domain, bus, dev, fn = m.groups()
    return f"{int(domain or '0', 16):04x}:{int(bus, 16):02x}:{int(dev, 16):02x}.{fn}"


def gpus(adapters: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The physical GPUs among ``adapters`` (what :func:`wgbert.adapters` returns), each once:
    CPU (software) adapters left out, a GPU seen through several backends kept through the
    preferred one, in PCI bus order where the ids are known (nvidia-smi's and
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``'s order), else in adapter order."""
    real = [a for a in adapters if a.get("device_type") != "Cpu"]
    with_pci = [a for a in real if normalize_pci(a.get("pci_bus_id", ""))]
    if with_pci:
        best: dict[str, Mapping[str, Any]] = {}
        for a in with_pci:
            key = normalize_pci(a["pci_bus_id"])
            rank = _BACKENDS.index(a["backend"]) if a["backend"] in _BACKENDS else len(_BACKENDS)
            held = best.get(key)
            if held is None or rank < (_BACKENDS.index(held["backend"]) if held["backend"] in _BACKENDS else len(_BACKENDS)):
                best[key] = a
        return [best[k] for k in sorted(best)]
    # No bus ids (Metal, GL): one backend's adapters, in their order.
    for backend in _BACKENDS:
        same = [a for a in real if a.get("backend") == backend]
        if same:
            return same
    return list(real)


def pick_adapter(
    gpu_ids: Sequence[int | str],
    adapters: Sequence[Mapping[str, Any]],
    ordinal_to_pci: Mapping[int, str] | None = None,
) -> Mapping[str, Any] | None:
    """The adapter for the first of a worker's scheduler-assigned GPU ordinals, or None when it
    was assigned none (then wgbert picks as usual: the best adapter, or ``WGBERT_ADAPTER``).

    ``ordinal_to_pci``: each CUDA ordinal's PCI bus id (``nvidia-smi``'s table, see
    :func:`nvidia_ordinals`) where known: the exact answer. Without it, ordinal k is the k-th GPU
    in PCI bus order (CUDA's order under ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, which a cluster of
    identical GPUs shares). A ValueError names the ordinal when no adapter matches: a worker
    must not silently share another's GPU.
    """
    if not gpu_ids:
        return None
    ordinal = int(gpu_ids[0])
    found = gpus(adapters)
    if ordinal_to_pci and ordinal in ordinal_to_pci:
        want = normalize_pci(ordinal_to_pci[ordinal])
        for a in found:
            if normalize_pci(a.get("pci_bus_id", "")) == want:
                return a
        listed = ", ".join(f"{a['name']} ({a.get('pci_bus_id') or 'no bus id'})" for a in found) or "none"
        raise ValueError(f"GPU {ordinal} is at PCI bus {want}, and no adapter is there; adapters: {listed}")
    if ordinal >= len(found):
        raise ValueError(
            f"GPU {ordinal} was assigned, and wgbert sees {len(found)} GPU adapter(s): "
            + (", ".join(a["name"] for a in found) or "none (is a Vulkan driver installed?)")
        )
    return found[ordinal]


def nvidia_ordinals(smi_output: str) -> dict[int, str]:
    """``nvidia-smi --query-gpu=index,pci.bus_id --format=csv,noheader`` as {ordinal: bus id}."""
    table = {}
    for line in smi_output.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit() and normalize_pci(parts[1]):
            table[int(parts[0])] = parts[1]
    return table


def query_nvidia_ordinals() -> dict[int, str]:
    """This host's NVIDIA ordinals and bus ids, or {} where there is no nvidia-smi."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return {}
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,pci.bus_id", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return nvidia_ordinals(out)
