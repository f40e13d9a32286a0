/* err.c -- text for the error table and the detail helpers. */
#include "common/err.h"

#include <stdio.h>
#include <string.h>

static const char *const err_text[RK_ERR__COUNT] = {
#define RK_ERR_TEXT(name, text) [name] = text,
	RK_ERR_TABLE(RK_ERR_TEXT)
#undef RK_ERR_TEXT
};

const char *rk_strerror(int code)
{
	if (code < 0 || code >= RK_ERR__COUNT)
		return "unknown error";
	return err_text[code];
}

static void err_vset(struct rk_err *err, int code, int sys_errno, const char *fmt, va_list ap)
{
	int n;

	err->code = code;
	n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	if (n < 0) {
		err->msg[0] = '\0';
		n = 0;
	}
	if (sys_errno != 0 && (size_t)n < sizeof err->msg)
		snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(sys_errno));
}

int rk_err_set(struct rk_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		err_vset(err, code, 0, fmt, ap);
		va_end(ap);
	}
	return code;
}

int rk_err_errno(struct rk_err *err, int code, int sys_errno, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		err_vset(err, code, sys_errno, fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *rk_err_text(const struct rk_err *err, int code)
{
	if (err != NULL && err->code == code && err->msg[0] != '\0')
		return err->msg;
	return rk_strerror(code);
}
