/* A stand-in for Windows' certutil.exe, for .ci/cross under Wine (which has
   none): put beside trakt-doctor.exe (where Windows looks first), it appends
   its arguments, one a line and then an empty line, to certutil-calls.txt in
   the working folder and succeeds, so the check reads what `ca trust` and
   `ca untrust` ran. */
#include <stdio.h>

int main(int argc, char **argv) {
    FILE *out = fopen("certutil-calls.txt", "ab"); /* binary: no CRLF */
    if (!out) return 2;
    for (int i = 1; i < argc; i++) fprintf(out, "%s\n", argv[i]);
    fprintf(out, "\n");
    return fclose(out) == 0 ? 0 : 2;
}
