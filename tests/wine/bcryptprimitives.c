/* Test-only stand-in for Windows' bcryptprimitives.dll under Wine 8, which lacks it.
 *
 * Rust's standard library (>= 1.78) imports ProcessPrng from bcryptprimitives.dll for its
 * random numbers. Wine 9 and later ship the DLL; Debian 12's Wine 8 does not, so a Windows
 * program built by Rust fails to start there. This shim forwards ProcessPrng to advapi32's
 * RtlGenRandom (SystemFunction036), the OS CSPRNG Wine does have. `cargo xtask test` builds it
 * with mingw-w64 next to the .exe it runs under Wine. It is never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
