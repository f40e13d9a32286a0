/* history.c -- parsing the runner's history files, and the direct checks of append-only keys.
 *
 * Every string of a history (keys, values) lives in one arena freed with the history, so ops can
 * point at their values without owning them. The parser is strict: a runner bug that writes a
 * wrong line must stop the check (exit 2), not be read as a violation of the cluster.
 */
#include "config.h" /* _GNU_SOURCE: getline, open_memstream */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "fault/checker.h"
#include "fault/checker_int.h"

/* ---- arena: bump allocation in chunks, freed all at once ---- */

struct chunk {
	struct chunk *next;
	size_t used;
	size_t cap;
	char data[];
};

static char *arena_copy(struct chunk **arena, const char *p, size_t len)
{
	struct chunk *c = *arena;
	char *dst;

	if (c == NULL || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > 65536 ? len + 1 : 65536;
		c = rk_malloc(sizeof *c + cap);
		if (c == NULL)
			return NULL;
		c->next = *arena;
		c->used = 0;
		c->cap = cap;
		*arena = c;
	}
	dst = c->data + c->used;
	memcpy(dst, p, len);
	dst[len] = '\0';
	c->used += len + 1;
	return dst;
}

static void arena_free(struct chunk *c)
{
	while (c != NULL) {
		struct chunk *next = c->next;
		rk_free(c);
		c = next;
	}
}

/* ---- hashing ---- */

uint64_t rk_chk_hash_bytes(const char *p, size_t len, uint64_t *pow)
{
	uint64_t h = 0, b = 1;

	for (size_t i = 0; i < len; i++) {
		h = h * CHK_BASE + (uint64_t)(unsigned char)p[i] + 1;
		b *= CHK_BASE;
	}
	if (pow != NULL)
		*pow = b;
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* ---- the parser ---- */

struct parser {
	struct rk_chk_history *h;
	struct chunk *arena;
	const char *name;
	unsigned line;
	struct rk_err *err;
	size_t opcap, keycap;
	size_t *idmap; /* open addressing: op index + 1 by id; 0 = empty */
	size_t idcap;
	size_t *keymap; /* key index + 1 by name hash */
	size_t keymapcap;
};

#define MAX_FIELDS 8

static int syntax(struct parser *ps, const char *fmt, const char *what)
{
	return rk_err_set(ps->err, RK_EPROTO, "%s:%u: %s%s", ps->name, ps->line, fmt, what);
}

static int grow_map(size_t **map, size_t *cap, size_t need, const void *ctx,
		    uint64_t (*hash_of)(const void *ctx, size_t idx))
{
	size_t ncap, *nmap;

	if (need * 2 <= *cap)
		return RK_OK;
	ncap = *cap == 0 ? 1024 : *cap * 2;
	nmap = rk_calloc(ncap, sizeof *nmap);
	if (nmap == NULL)
		return RK_ENOMEM;
	for (size_t i = 0; i < *cap; i++) {
		size_t v = (*map)[i], j;
		if (v == 0)
			continue;
		j = (size_t)hash_of(ctx, v - 1) & (ncap - 1);
		while (nmap[j] != 0)
			j = (j + 1) & (ncap - 1);
		nmap[j] = v;
	}
	rk_free(*map);
	*map = nmap;
	*cap = ncap;
	return RK_OK;
}

static uint64_t op_id_hash(const void *ctx, size_t idx)
{
	const struct rk_chk_history *h = ctx;
	return mix64(h->ops[idx].id);
}

static uint64_t key_name_hash(const void *ctx, size_t idx)
{
	const struct rk_chk_history *h = ctx;
	return mix64(rk_chk_hash_bytes(h->keys[idx], strlen(h->keys[idx]), NULL));
}

/* The op index of @id, or SIZE_MAX. */
static size_t find_op(struct parser *ps, uint64_t id)
{
	size_t j;

	if (ps->idcap == 0)
		return SIZE_MAX;
	j = (size_t)mix64(id) & (ps->idcap - 1);
	while (ps->idmap[j] != 0) {
		if (ps->h->ops[ps->idmap[j] - 1].id == id)
			return ps->idmap[j] - 1;
		j = (j + 1) & (ps->idcap - 1);
	}
	return SIZE_MAX;
}

static int intern_key(struct parser *ps, const char *name, size_t len, size_t *out)
{
	struct rk_chk_history *h = ps->h;
	size_t j;
	int rv;

	rv = grow_map(&ps->keymap, &ps->keymapcap, h->nkeys + 1, h, key_name_hash);
	if (rv != RK_OK)
		return rv;
	j = (size_t)mix64(rk_chk_hash_bytes(name, len, NULL)) & (ps->keymapcap - 1);
	while (ps->keymap[j] != 0) {
		const char *k = h->keys[ps->keymap[j] - 1];
		if (strlen(k) == len && memcmp(k, name, len) == 0) {
			*out = ps->keymap[j] - 1;
			return RK_OK;
		}
		j = (j + 1) & (ps->keymapcap - 1);
	}
	if (h->nkeys == ps->keycap) {
		size_t ncap = ps->keycap == 0 ? 16 : ps->keycap * 2;
		char **nk = rk_realloc(h->keys, ncap * sizeof *nk);
		if (nk == NULL)
			return RK_ENOMEM;
		h->keys = nk;
		ps->keycap = ncap;
	}
	h->keys[h->nkeys] = arena_copy(&ps->arena, name, len);
	if (h->keys[h->nkeys] == NULL)
		return RK_ENOMEM;
	ps->keymap[j] = ++h->nkeys;
	*out = h->nkeys - 1;
	return RK_OK;
}

static int parse_u64(struct parser *ps, const char *tok, const char *what, uint64_t *out)
{
	char *end;

	if (*tok < '0' || *tok > '9')
		return syntax(ps, "expected a decimal number for ", what);
	errno = 0;
	*out = strtoull(tok, &end, 10);
	if (errno != 0 || *end != '\0' || *out == UINT64_MAX)
		return syntax(ps, "bad number for ", what);
	return RK_OK;
}

/* A value token: "-" is absent (only where @absent_ok), "" is the empty value. */
static int parse_val(struct parser *ps, const char *tok, bool absent_ok, struct rk_chk_val *v)
{
	size_t len = strlen(tok);

	memset(v, 0, sizeof *v);
	if (strcmp(tok, "-") == 0) {
		if (!absent_ok)
			return syntax(ps, "\"-\" (absent) is not a value to write", "");
		v->pow = 1;
		return RK_OK;
	}
	if (strcmp(tok, "\"\"") == 0)
		len = 0;
	v->p = arena_copy(&ps->arena, tok, len);
	if (v->p == NULL)
		return RK_ENOMEM;
	v->len = len;
	v->hash = rk_chk_hash_bytes(v->p, len, &v->pow);
	return RK_OK;
}

static int parse_invoke(struct parser *ps, char **f, size_t nf)
{
	struct rk_chk_history *h = ps->h;
	struct rk_chk_op op;
	size_t want;
	int rv;

	memset(&op, 0, sizeof op);
	if (nf < 6)
		return syntax(ps, "INVOKE needs <op-id> <process> <time-ns> <op> <key>", "");
	if ((rv = parse_u64(ps, f[1], "op-id", &op.id)) != RK_OK ||
	    (rv = parse_u64(ps, f[2], "process", &op.process)) != RK_OK ||
	    (rv = parse_u64(ps, f[3], "time", &op.invoke_ns)) != RK_OK)
		return rv;
	if (find_op(ps, op.id) != SIZE_MAX)
		return syntax(ps, "duplicate op-id ", f[1]);
	if (strcmp(f[4], "get") == 0) {
		op.kind = RK_CHK_GET;
		want = 0;
	} else if (strcmp(f[4], "put") == 0) {
		op.kind = RK_CHK_PUT;
		want = 1;
	} else if (strcmp(f[4], "cas") == 0) {
		op.kind = RK_CHK_CAS;
		want = 2;
	} else if (strcmp(f[4], "append") == 0) {
		op.kind = RK_CHK_APPEND;
		want = 1;
	} else if (strcmp(f[4], "delete") == 0) {
		op.kind = RK_CHK_DELETE;
		want = 0;
	} else {
		return syntax(ps, "unknown op ", f[4]);
	}
	if (nf != 6 + want)
		return syntax(ps, "wrong number of arguments for ", f[4]);
	for (size_t i = 0; i < want; i++) {
		rv = parse_val(ps, f[6 + i], false, &op.arg[i]);
		if (rv != RK_OK)
			return rv;
	}
	rv = intern_key(ps, f[5], strlen(f[5]), &op.key);
	if (rv != RK_OK)
		return rv;
	/* Until its completion line, an op is indeterminate: that is also its fate at EOF. */
	op.status = RK_CHK_INFO;
	op.return_ns = UINT64_MAX;
	op.result.pow = 1;
	op.invoke_line = ps->line;

	if (h->nops == ps->opcap) {
		size_t ncap = ps->opcap == 0 ? 1024 : ps->opcap * 2;
		struct rk_chk_op *nops = rk_realloc(h->ops, ncap * sizeof *nops);
		if (nops == NULL)
			return RK_ENOMEM;
		h->ops = nops;
		ps->opcap = ncap;
	}
	h->ops[h->nops++] = op;
	rv = grow_map(&ps->idmap, &ps->idcap, h->nops, h, op_id_hash);
	if (rv != RK_OK)
		return rv;
	{
		size_t j = (size_t)mix64(op.id) & (ps->idcap - 1);
		while (ps->idmap[j] != 0)
			j = (j + 1) & (ps->idcap - 1);
		ps->idmap[j] = h->nops;
	}
	return RK_OK;
}

static int parse_complete(struct parser *ps, char **f, size_t nf, enum rk_chk_status st)
{
	struct rk_chk_op *op;
	uint64_t id, t;
	size_t i;
	int rv;

	if (nf < 3)
		return syntax(ps, "completion needs <op-id> <time-ns>", "");
	if ((rv = parse_u64(ps, f[1], "op-id", &id)) != RK_OK ||
	    (rv = parse_u64(ps, f[2], "time", &t)) != RK_OK)
		return rv;
	i = find_op(ps, id);
	if (i == SIZE_MAX)
		return syntax(ps, "completion of an op never invoked: ", f[1]);
	op = &ps->h->ops[i];
	if (op->complete_line != 0)
		return syntax(ps, "second completion of op ", f[1]);
	if (t < op->invoke_ns)
		return syntax(ps, "completion before invocation of op ", f[1]);
	op->complete_line = ps->line;
	op->status = st;
	if (st == RK_CHK_INFO)
		return RK_OK; /* any reason text; the return time says nothing */
	op->return_ns = t;
	if (st == RK_CHK_FAIL) {
		if (nf >= 4 && strcmp(f[3], "cas-failed") == 0 && op->kind == RK_CHK_CAS)
			op->reason = RK_CHK_REASON_CAS_FAILED;
		else if (nf >= 4 && strcmp(f[3], "not-found") == 0 &&
			 (op->kind == RK_CHK_CAS || op->kind == RK_CHK_DELETE))
			op->reason = RK_CHK_REASON_NOT_FOUND;
		return RK_OK;
	}
	if (op->kind == RK_CHK_GET) {
		if (nf != 4)
			return syntax(ps, "OK of a get needs exactly one result (value or -)", "");
		return parse_val(ps, f[3], true, &op->result);
	}
	if (nf != 3)
		return syntax(ps, "OK of a write takes no result", "");
	return RK_OK;
}

/* Split @line in place on blanks; returns the field count, at most MAX_FIELDS + 1 (too many). */
static size_t split(char *line, char **f)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			*p++ = '\0';
		if (*p == '\0')
			return n;
		if (n == MAX_FIELDS + 1)
			return n;
		f[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
	}
}

static int parse_line(struct parser *ps, char *line, size_t len)
{
	char *f[MAX_FIELDS + 1];
	size_t nf;

	if (strlen(line) != len)
		return syntax(ps, "NUL byte in line", "");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n')
			return syntax(ps, "control character in line", "");
	}
	nf = split(line, f);
	if (nf == 0 || f[0][0] == '#')
		return RK_OK;
	if (strcmp(f[0], "INVOKE") == 0) {
		if (nf > MAX_FIELDS)
			return syntax(ps, "too many fields", "");
		return parse_invoke(ps, f, nf);
	}
	/* FAIL and INFO may carry free text after the reason; only the first words matter. */
	if (strcmp(f[0], "OK") == 0)
		return parse_complete(ps, f, nf, RK_CHK_OK);
	if (strcmp(f[0], "FAIL") == 0)
		return parse_complete(ps, f, nf, RK_CHK_FAIL);
	if (strcmp(f[0], "INFO") == 0)
		return parse_complete(ps, f, nf, RK_CHK_INFO);
	return syntax(ps, "unknown event ", f[0]);
}

static int parser_start(struct parser *ps, const char *name, struct rk_err *err)
{
	memset(ps, 0, sizeof *ps);
	ps->name = name;
	ps->err = err;
	ps->h = rk_calloc(1, sizeof *ps->h);
	return ps->h == NULL ? rk_err_set(err, RK_ENOMEM, "history") : RK_OK;
}

/* Returns owned *out on RK_OK; frees everything on error. */
static int parser_finish(struct parser *ps, int rv, struct rk_chk_history **out)
{
	rk_free(ps->idmap);
	rk_free(ps->keymap);
	ps->h->arena = ps->arena;
	if (rv != RK_OK) {
		if (rv == RK_ENOMEM)
			rk_err_set(ps->err, RK_ENOMEM, "%s:%u: out of memory", ps->name, ps->line);
		rk_chk_history_free(ps->h);
		return rv;
	}
	*out = ps->h;
	return RK_OK;
}

int rk_chk_history_parse_file(FILE *f, const char *name, struct rk_chk_history **out,
			      struct rk_err *err)
{
	struct parser ps;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rv;

	rv = parser_start(&ps, name, err);
	if (rv != RK_OK)
		return rv;
	while ((n = getline(&line, &cap, f)) >= 0) {
		ps.line++;
		rv = parse_line(&ps, line, (size_t)n);
		if (rv != RK_OK)
			break;
	}
	if (rv == RK_OK && ferror(f))
		rv = rk_err_errno(err, RK_EIO, errno, "%s: read", name);
	free(line);
	return parser_finish(&ps, rv, out);
}

int rk_chk_history_parse_buf(const char *buf, size_t len, struct rk_chk_history **out,
			     struct rk_err *err)
{
	struct parser ps;
	size_t pos = 0;
	char *line = NULL;
	size_t cap = 0;
	int rv;

	rv = parser_start(&ps, "history", err);
	if (rv != RK_OK)
		return rv;
	while (rv == RK_OK && pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;
		if (n + 1 > cap) {
			char *nline = rk_realloc(line, n + 1);
			if (nline == NULL) {
				rv = RK_ENOMEM;
				break;
			}
			line = nline;
			cap = n + 1;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		ps.line++;
		rv = parse_line(&ps, line, n);
		pos += n + 1;
	}
	rk_free(line);
	return parser_finish(&ps, rv, out);
}

void rk_chk_history_free(struct rk_chk_history *h)
{
	if (h == NULL)
		return;
	arena_free(h->arena);
	rk_free(h->ops);
	rk_free(h->keys);
	rk_free(h);
}

/* ---- printing ---- */

static const char *kind_name(enum rk_chk_opkind k)
{
	switch (k) {
	case RK_CHK_GET:
		return "get";
	case RK_CHK_PUT:
		return "put";
	case RK_CHK_CAS:
		return "cas";
	case RK_CHK_APPEND:
		return "append";
	case RK_CHK_DELETE:
		return "delete";
	}
	return "?";
}

static void print_val(FILE *f, const struct rk_chk_val *v)
{
	if (v->p == NULL) {
		fputs("-", f);
	} else if (v->len == 0) {
		fputs("\"\"", f);
	} else if (v->len <= RK_CHK_ELIDE_OVER) {
		fwrite(v->p, 1, v->len, f);
	} else {
		/* a long append value: its start, and the end where the latest appends are */
		fwrite(v->p, 1, RK_CHK_ELIDE_HEAD, f);
		fputs("...", f);
		fwrite(v->p + v->len - RK_CHK_ELIDE_TAIL, 1, RK_CHK_ELIDE_TAIL, f);
		fprintf(f, " (%zu bytes)", v->len);
	}
}

void rk_chk_print_op(FILE *f, const struct rk_chk_history *h, size_t i)
{
	const struct rk_chk_op *op = &h->ops[i];

	fprintf(f, "line %u op %" PRIu64 " p%" PRIu64 " [%" PRIu64 ", ", op->invoke_line, op->id,
		op->process, op->invoke_ns);
	if (op->status == RK_CHK_INFO)
		fputs("inf) ", f);
	else
		fprintf(f, "%" PRIu64 "] ", op->return_ns);
	fputs(kind_name(op->kind), f);
	for (int a = 0; a < (op->kind == RK_CHK_CAS				   ? 2
			     : op->kind == RK_CHK_PUT || op->kind == RK_CHK_APPEND ? 1
										   : 0);
	     a++) {
		fputc(' ', f);
		print_val(f, &op->arg[a]);
	}
	switch (op->status) {
	case RK_CHK_OK:
		fputs(" -> ", f);
		if (op->kind == RK_CHK_GET)
			print_val(f, &op->result);
		else
			fputs("ok", f);
		break;
	case RK_CHK_FAIL:
		fputs(op->reason == RK_CHK_REASON_CAS_FAILED  ? " -> FAIL cas-failed"
		      : op->reason == RK_CHK_REASON_NOT_FOUND ? " -> FAIL not-found"
							      : " -> FAIL",
		      f);
		break;
	case RK_CHK_INFO:
		fputs(" -> INFO", f);
		break;
	}
}

/* ---- append-only keys ---- */

bool rk_chk_is_append_key(const struct rk_chk_history *h, size_t key, char *sep)
{
	bool any = false;
	char s = 0;

	for (size_t i = 0; i < h->nops; i++) {
		const struct rk_chk_op *op = &h->ops[i];
		if (op->key != key || op->kind == RK_CHK_GET)
			continue;
		if (op->kind != RK_CHK_APPEND || op->arg[0].len == 0)
			return false;
		if (!any)
			s = op->arg[0].p[op->arg[0].len - 1];
		if (op->arg[0].p[op->arg[0].len - 1] != s ||
		    memchr(op->arg[0].p, s, op->arg[0].len - 1) != NULL)
			return false;
		any = true;
	}
	if (any && sep != NULL)
		*sep = s;
	return any;
}

size_t rk_chk_final_read(const struct rk_chk_history *h, size_t key)
{
	size_t best = SIZE_MAX;
	uint64_t last_done = 0;

	for (size_t i = 0; i < h->nops; i++) {
		const struct rk_chk_op *op = &h->ops[i];
		if (op->key != key)
			continue;
		if (op->kind == RK_CHK_GET && op->status == RK_CHK_OK &&
		    (best == SIZE_MAX || op->invoke_ns >= h->ops[best].invoke_ns))
			best = i;
	}
	if (best == SIZE_MAX)
		return SIZE_MAX;
	for (size_t i = 0; i < h->nops; i++) {
		const struct rk_chk_op *op = &h->ops[i];
		if (op->key == key && i != best && op->status != RK_CHK_INFO &&
		    op->return_ns > last_done)
			last_done = op->return_ns;
	}
	return h->ops[best].invoke_ns > last_done ? best : SIZE_MAX;
}

static const struct rk_chk_history *sort_h; /* for cmp_app: qsort has no context argument */

static int cmp_app(const void *pa, const void *pb)
{
	uint64_t a = sort_h->ops[*(const size_t *)pa].arg[0].hash;
	uint64_t b = sort_h->ops[*(const size_t *)pb].arg[0].hash;
	return a < b ? -1 : a > b;
}

struct tok {
	const char *p;
	size_t len;
	uint64_t hash;
	size_t op; /* SIZE_MAX until matched */
};

/* Record the first problem; @fmt gets the token (or value) as "%.*s", cut to 64 bytes. */
static void append_problem(struct rk_chk_append_report *rep, enum rk_chk_append_problem p,
			   size_t op, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void append_problem(struct rk_chk_append_report *rep, enum rk_chk_append_problem p,
			   size_t op, const char *fmt, ...)
{
	va_list ap;

	rep->problem = p;
	rep->op = op;
	va_start(ap, fmt);
	vsnprintf(rep->detail, sizeof rep->detail, fmt, ap);
	va_end(ap);
}

static int cut(size_t len)
{
	return (int)(len > 64 ? 64 : len);
}

int rk_chk_appends(const struct rk_chk_history *h, size_t key, const char *final, size_t final_len,
		   char sep, struct rk_chk_append_report *rep, struct rk_err *err)
{
	struct tok *toks = NULL;
	size_t *seen = NULL; /* per op: how many times its token occurs */
	size_t *apps = NULL, napps = 0;
	size_t ntok = 0, start = 0;
	size_t maxinv_op = SIZE_MAX;
	int rv = RK_OK;

	memset(rep, 0, sizeof *rep);
	rep->op = rep->other = SIZE_MAX;
	for (size_t i = 0; i < h->nops; i++)
		if (h->ops[i].key == key && h->ops[i].kind != RK_CHK_GET &&
		    h->ops[i].kind != RK_CHK_APPEND)
			return rk_err_set(err, RK_EINVAL, "key %s has writes other than appends",
					  h->keys[key]);

	/* Reads only grow: each OK read must be a prefix of the final value. */
	for (size_t i = 0; i < h->nops; i++) {
		const struct rk_chk_op *op = &h->ops[i];
		if (op->key != key || op->kind != RK_CHK_GET || op->status != RK_CHK_OK ||
		    op->result.p == NULL)
			continue;
		if (final == NULL || op->result.len > final_len ||
		    memcmp(op->result.p, final, op->result.len) != 0) {
			append_problem(rep, RK_CHK_APPEND_NOT_PREFIX, i,
				       "read %.*s is not a prefix of the final value",
				       cut(op->result.len), op->result.p);
			return RK_OK;
		}
	}
	if (final == NULL)
		final_len = 0;
	toks = rk_calloc(final_len + 1, sizeof *toks);
	seen = rk_calloc(h->nops + 1, sizeof *seen);
	apps = rk_calloc(h->nops + 1, sizeof *apps);
	if (toks == NULL || seen == NULL || apps == NULL) {
		rv = rk_err_set(err, RK_ENOMEM, "append check");
		goto out;
	}
	for (size_t i = 0; i < final_len; i++) {
		if (final[i] != sep)
			continue;
		toks[ntok].p = final + start;
		toks[ntok].len = i + 1 - start;
		toks[ntok].hash = rk_chk_hash_bytes(toks[ntok].p, toks[ntok].len, NULL);
		toks[ntok].op = SIZE_MAX;
		ntok++;
		start = i + 1;
	}
	rep->tokens = ntok;
	if (start != final_len) {
		append_problem(rep, RK_CHK_APPEND_GARBAGE, SIZE_MAX,
			       "final value ends in %.*s, not a whole token",
			       cut(final_len - start), final + start);
		goto out;
	}
	/* Match tokens to the key's appends, sorted by hash for a binary search each. */
	for (size_t i = 0; i < h->nops; i++)
		if (h->ops[i].key == key && h->ops[i].kind == RK_CHK_APPEND)
			apps[napps++] = i;
	sort_h = h;
	qsort(apps, napps, sizeof *apps, cmp_app);
	for (size_t t = 0; t < ntok; t++) {
		size_t lo = 0, hi = napps;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (h->ops[apps[mid]].arg[0].hash < toks[t].hash)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < napps && h->ops[apps[lo]].arg[0].hash == toks[t].hash; lo++) {
			const struct rk_chk_val *v = &h->ops[apps[lo]].arg[0];
			if (v->len == toks[t].len && memcmp(v->p, toks[t].p, v->len) == 0) {
				toks[t].op = apps[lo];
				break;
			}
		}
		if (toks[t].op == SIZE_MAX) {
			append_problem(rep, RK_CHK_APPEND_UNKNOWN, SIZE_MAX,
				       "token %.*s was never appended", cut(toks[t].len),
				       toks[t].p);
			goto out;
		}
		if (h->ops[toks[t].op].status == RK_CHK_FAIL) {
			append_problem(rep, RK_CHK_APPEND_FAILED, toks[t].op,
				       "token %.*s of a failed append is present", cut(toks[t].len),
				       toks[t].p);
			goto out;
		}
		if (++seen[toks[t].op] == 2) {
			append_problem(rep, RK_CHK_APPEND_DUPLICATE, toks[t].op,
				       "token %.*s appears twice", cut(toks[t].len), toks[t].p);
			goto out;
		}
	}
	for (size_t i = 0; i < h->nops; i++) {
		const struct rk_chk_op *op = &h->ops[i];
		if (op->key == key && op->kind == RK_CHK_APPEND && op->status == RK_CHK_OK &&
		    seen[i] == 0) {
			append_problem(rep, RK_CHK_APPEND_LOST, i,
				       "acknowledged token %.*s is missing", cut(op->arg[0].len),
				       op->arg[0].p);
			goto out;
		}
	}
	/* Real-time order: a token must not follow one whose append began after it had ended.
	 * Keeping the latest invocation seen so far finds any such pair in one pass. */
	for (size_t t = 0; t < ntok; t++) {
		const struct rk_chk_op *op = &h->ops[toks[t].op];
		if (maxinv_op != SIZE_MAX && op->status == RK_CHK_OK &&
		    op->return_ns < h->ops[maxinv_op].invoke_ns) {
			append_problem(rep, RK_CHK_APPEND_ORDER, toks[t].op,
				       "token %.*s comes after a token appended later",
				       cut(op->arg[0].len), op->arg[0].p);
			rep->other = maxinv_op;
			goto out;
		}
		if (maxinv_op == SIZE_MAX || op->invoke_ns > h->ops[maxinv_op].invoke_ns)
			maxinv_op = toks[t].op;
	}
out:
	rk_free(toks);
	rk_free(seen);
	rk_free(apps);
	return rv;
}
