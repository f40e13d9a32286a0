/* node_config_file.c -- reading raftkv.conf: iniparser for the syntax, plus a pre-scan for
 * line numbers and repeated keys.
 *
 * iniparser (4.1 on Debian) forgives too much for a file that decides which machines form a
 * cluster: it keeps the last of two equal keys without a word, so a copy-pasted member line can
 * hide a member, and it keeps no line numbers. So the file is read twice: scan_lines() follows
 * iniparser's line rules just far enough to find every section and key with its line, refusing
 * a repeated key; then iniparser_load() reads the values. Every entry of the dictionary then
 * goes through rk_config_apply(), which refuses anything not in the key table.
 */
#include "config.h"

#include <errno.h>
#include <iniparser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/node_config_int.h"

#define SCAN_MAX_KEYS 1024 /* far above any real file; bounds the quadratic duplicate check */
#define SCAN_GROW 32

struct seen_key {
	char *key;     /* "section:name" or "section", lower case: iniparser's dictionary keys */
	unsigned line; /* first line it appears on */
};

struct scan {
	struct seen_key *v; /* owned, with every key */
	size_t n;
};

static void free_scan(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].key);
	free(s->v);
}

/* Line of @key in the file; 0 if the scan did not see it (iniparser read a line differently). */
static unsigned find_line(const struct scan *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0)
			return s->v[i].line;
	return 0;
}

/* Strip blanks and the line end around @s and lower-case it, in place, as iniparser does with
 * names. Returns the start, borrowed from @s. */
static char *trim_lower(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*e = '\0';
	for (char *p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* Takes @key: on RK_OK it belongs to @s, on error it is freed. */
static int add_key(struct scan *s, char *key, unsigned line, const char *path,
		   struct rk_err *err)
{
	if (s->n == SCAN_MAX_KEYS) {
		free(key);
		return rk_err_set(err, RK_ECONFIG, "%s:%u: more than %d keys", path, line,
				  SCAN_MAX_KEYS);
	}
	if (s->n % SCAN_GROW == 0) {
		struct seen_key *v = realloc(s->v, (s->n + SCAN_GROW) * sizeof *v);
		if (v == NULL) {
			free(key);
			return rk_err_set(err, RK_ENOMEM, "%s: reading keys", path);
		}
		s->v = v;
	}
	s->v[s->n++] = (struct seen_key){ .key = key, .line = line };
	return RK_OK;
}

/* Record every section and key of @path with its first line into @s; a key seen twice is an
 * error. The rules are iniparser 4.1's, checked against it: a line that ends (after blanks) in a
 * backslash continues on the next one, a comment line too; '#' or ';' first makes a comment;
 * "[name]" starts a section; "name = value" is a key. Other lines are left for iniparser to
 * report. Also the place where an unreadable file is reported, with errno. */
static int scan_lines(const char *path, struct scan *s, struct rk_err *err)
{
	char *buf = NULL, *line, *eq, *key;
	char section[256] = "";
	size_t cap = 0;
	unsigned lineno = 0, first;
	bool cont = false, was_cont;
	struct stat st;
	FILE *f;
	int rv = RK_OK;

	f = fopen(path, "r");
	if (f == NULL)
		return rk_err_errno(err, RK_ECONFIG, errno, "%s: cannot open", path);
	/* fopen() of a directory succeeds; reading it fails with a less helpful EISDIR */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		rv = rk_err_set(err, RK_ECONFIG, "%s: cannot read: is a directory", path);
		goto out_close;
	}
	while (getline(&buf, &cap, f) >= 0) {
		lineno++;
		line = trim_lower(buf);
		was_cont = cont;
		cont = line[0] != '\0' && line[strlen(line) - 1] == '\\';
		if (was_cont || line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[') {
			char *close = strchr(line, ']');
			if (close == NULL)
				continue;
			*close = '\0';
			snprintf(section, sizeof section, "%s", trim_lower(line + 1));
			/* a section may come back in a second block: keep its first line */
			if (find_line(s, section) != 0)
				continue;
			key = strdup(section);
		} else if ((eq = strchr(line, '=')) != NULL) {
			*eq = '\0';
			if (asprintf(&key, "%s:%s", section, trim_lower(line)) < 0)
				key = NULL;
		} else {
			continue;
		}
		if (key == NULL) {
			rv = rk_err_set(err, RK_ENOMEM, "%s: reading keys", path);
			goto out_free;
		}
		first = find_line(s, key);
		if (first != 0) {
			rv = rk_config_fail(err, path, lineno, section, strchr(key, ':') + 1, NULL,
					    "duplicate key (first on line %u)", first);
			free(key);
			goto out_free;
		}
		rv = add_key(s, key, lineno, path, err);
		if (rv != RK_OK)
			goto out_free;
	}
	if (ferror(f))
		rv = rk_err_errno(err, RK_ECONFIG, errno, "%s: cannot read", path);
out_free:
	free(buf);
out_close:
	fclose(f);
	return rv;
}

/* iniparser reports syntax errors through one process-wide callback that gets no user
 * pointer, so the first message of the load running on this thread goes here. */
static _Thread_local char ini_msg[192];
static _Thread_local unsigned ini_msgs;

__attribute__((format(printf, 1, 2))) static int capture_ini_error(const char *fmt, ...)
{
	char tmp[sizeof ini_msg];
	const char *text = tmp;
	va_list ap;
	size_t n;

	if (ini_msgs++ > 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	/* "iniparser: syntax error in F (2):\n-> id 1\n" becomes one line without the prefix */
	for (char *p = tmp; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	if (strncmp(text, "iniparser: ", 11) == 0)
		text += 11;
	snprintf(ini_msg, sizeof ini_msg, "%s", text);
	for (n = strlen(ini_msg); n > 0 && ini_msg[n - 1] == ' '; n--)
		ini_msg[n - 1] = '\0';
	return 0;
}

/* Turn the captured "syntax error in PATH (LINE): -> TEXT" into "PATH:LINE: syntax error:
 * TEXT" like every other message; an unexpected form is passed on after "PATH: ". */
static int report_ini_error(const char *path, struct rk_err *err)
{
	const char *more = ini_msgs > 1 ? " (and more errors)" : "";
	size_t plen = strlen(path);
	unsigned long line;
	char *in, *rest;

	if (ini_msgs == 0)
		return rk_err_set(err, RK_ECONFIG, "%s: cannot parse (out of memory?)", path);
	in = strstr(ini_msg, " in ");
	if (in != NULL && strncmp(in + 4, path, plen) == 0 &&
	    strncmp(in + 4 + plen, " (", 2) == 0) {
		line = strtoul(in + 6 + plen, &rest, 10);
		if (*rest == ')') {
			rest += 1 + strspn(rest + 1, ": ");
			if (strncmp(rest, "-> ", 3) == 0)
				rest += 3;
			*in = '\0';
			return rk_err_set(err, RK_ECONFIG, "%s:%lu: %s%s%s%s", path, line, ini_msg,
					  *rest != '\0' ? ": " : "", rest, more);
		}
	}
	return rk_err_set(err, RK_ECONFIG, "%s: %s%s", path, ini_msg, more);
}

int rk_config_load(struct rk_config *c, const char *path, struct rk_err *err)
{
	struct scan s = { NULL, 0 };
	dictionary *d;
	int rv;

	rv = scan_lines(path, &s, err);
	if (rv != RK_OK)
		goto out_scan;

	ini_msgs = 0;
	ini_msg[0] = '\0';
	iniparser_set_error_callback(capture_ini_error);
	d = iniparser_load(path);
	iniparser_set_error_callback(NULL); /* back to iniparser's stderr default */
	if (d == NULL) {
		rv = report_ini_error(path, err);
		goto out_scan;
	}

	/* Walk the dictionary itself, in file order, rather than iniparser_getnsec() and
	 * friends: those do not count a key above any section (stored as ":key") or a section
	 * with a colon in its name, and such entries must be refused too. Sections are the
	 * entries without a value. */
	for (int i = 0; i < d->size && rv == RK_OK; i++) {
		const char *entry = d->key[i], *value = d->val[i], *colon;
		char section[256];
		unsigned line;

		if (entry == NULL)
			continue;
		line = find_line(&s, entry);
		colon = strchr(entry, ':');
		if (value == NULL || colon == NULL || (size_t)(colon - entry) >= sizeof section) {
			if (!rk_config_is_section(entry))
				rv = rk_config_fail(err, path, line, entry, NULL, NULL, "%s",
						    RK_CONFIG_UNKNOWN_SECTION);
			continue;
		}
		memcpy(section, entry, (size_t)(colon - entry));
		section[colon - entry] = '\0';
		rv = rk_config_apply(c, section, colon + 1, value, path, line, false, err);
	}
	iniparser_freedict(d);
out_scan:
	free_scan(&s);
	return rv;
}
