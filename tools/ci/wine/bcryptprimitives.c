/* bcryptprimitives.dll for Wine 8, which lacks it. Rust's std (1.78+) imports ProcessPrng from
 * it for HashMap seeds and the like; real Windows 10+ ships the DLL. This shim exports only
 * ProcessPrng and fills the buffer from RtlGenRandom (advapi32's SystemFunction036).
 *
 *   x86_64-w64-mingw32-gcc -O2 -shared -s -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 *
 * Built by tools/ci/wine/check.sh into target/wine/; never committed as a binary. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE; /* Windows documents ProcessPrng as always returning TRUE */
}
