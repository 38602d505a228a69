"""Ray's GPU ordinals onto wgpu adapters (wgbert.devices), on made-up adapter lists."""

import pytest

from wgbert.devices import gpus, nvidia_ordinals, normalize_pci, pick_adapter


def adapter(index, name, backend="vulkan", pci="", kind="DiscreteGpu"):
    return {"index": index, "name": name, "backend": backend, "device_type": kind, "driver": "", "pci_bus_id": pci}


# Two H100s seen through Vulkan (bus ids) and GL (none), listed out of bus order, and lavapipe.
TWO_GPUS = [
    adapter(0, "NVIDIA H100 B", pci="0000:c1:00.0"),
    adapter(1, "NVIDIA H100 A", pci="0000:41:00.0"),
    adapter(2, "llvmpipe (LLVM 15.0.6, 256 bits)", kind="Cpu"),
    adapter(3, "NVIDIA H100 A/PCIe/SSE2", backend="gl"),
    adapter(4, "NVIDIA H100 B/PCIe/SSE2", backend="gl"),
]


def test_normalize_pci():
    assert normalize_pci("00000000:41:00.0") == "0000:41:00.0"  # nvidia-smi's 8-digit domain
    assert normalize_pci("0000:C1:00.0") == "0000:c1:00.0"
    assert normalize_pci("41:00.0") == "0000:41:00.0"
    assert normalize_pci("") is None and normalize_pci("GPU-1234") is None


def test_gpus_are_physical_and_in_bus_order():
    assert [a["index"] for a in gpus(TWO_GPUS)] == [1, 0]


def test_ordinals_map_by_bus_order():
    assert pick_adapter([0], TWO_GPUS)["index"] == 1
    assert pick_adapter(["1"], TWO_GPUS)["index"] == 0
    assert pick_adapter([], TWO_GPUS) is None


def test_two_actors_get_two_gpus():
    chosen = {pick_adapter([i], TWO_GPUS)["index"] for i in range(2)}
    assert chosen == {0, 1}


def test_nvidia_smi_table_decides():
    table = nvidia_ordinals("0, 00000000:C1:00.0\n1, 00000000:41:00.0\n")
    assert table == {0: "00000000:C1:00.0", 1: "00000000:41:00.0"}
    assert pick_adapter([0], TWO_GPUS, table)["index"] == 0
    assert pick_adapter([1], TWO_GPUS, table)["index"] == 1
    with pytest.raises(ValueError, match="PCI bus 0000:81:00.0"):
        pick_adapter([0], TWO_GPUS, {0: "0000:81:00.0"})


def test_without_bus_ids_adapter_order():
    # Metal and GL give no bus ids: one backend's GPUs in adapter order.
    macs = [adapter(0, "Apple M2 Ultra", backend="metal"), adapter(1, "AMD Radeon", backend="metal")]
    assert pick_adapter([1], macs)["index"] == 1
    gl_only = [adapter(0, "llvmpipe", backend="gl", kind="Cpu"), adapter(1, "Mesa Intel", backend="gl", kind="IntegratedGpu")]
    assert pick_adapter([0], gl_only)["index"] == 1


def test_an_ordinal_past_the_gpus_is_an_error():
    with pytest.raises(ValueError, match="GPU 2 was assigned, and wgbert sees 2 GPU adapter"):
        pick_adapter([2], TWO_GPUS)
    with pytest.raises(ValueError, match="sees 0 GPU"):
        pick_adapter([0], [adapter(0, "llvmpipe", kind="Cpu")])


def test_dx12_and_vulkan_of_one_gpu_count_once():
    both = [adapter(0, "RTX 4090", backend="dx12", pci="0000:01:00.0"), adapter(1, "RTX 4090", pci="0000:01:00.0")]
    assert [a["index"] for a in gpus(both)] == [1]
