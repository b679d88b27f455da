// Debian's libseccomp.a is built against glibc with _FORTIFY_SOURCE, so
// it calls glibc's checked printf; musl has none. Only its PFC export
// (a debugging dump nsh does not use) reaches this.
#ifndef __GLIBC__
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	(void)flag;
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}
#endif
