/* wire.c -- hand codecs for the benchmark's hot path; see wire.h. */
#include "config.h"

#include "bench/wire.h"

#include <string.h>
#include <strings.h>

#include "net/frame.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wt)
{
	return put_varint(p, (uint64_t)field << 3 | wt);
}

static uint8_t *put_u64_field(uint8_t *p, unsigned field, uint64_t v)
{
	if (v == 0)
		return p; /* proto3: defaults are not on the wire */
	p = put_tag(p, field, WT_VARINT);
	return put_varint(p, v);
}

static uint8_t *put_bytes_field(uint8_t *p, unsigned field, const uint8_t *b, size_t n)
{
	if (n == 0)
		return p;
	p = put_tag(p, field, WT_LEN);
	p = put_varint(p, n);
	memcpy(p, b, n);
	return p + n;
}

size_t rkb_req_max(size_t klen, size_t vlen)
{
	/* Seven fields at most: one-byte tags, 10-byte varints, two length prefixes. */
	return RK_FRAME_HEADER_SIZE + 7 * (1 + 10) + klen + vlen;
}

size_t rkb_req_encode(const struct rkb_req *r, uint8_t *out)
{
	uint8_t *p = out + RK_FRAME_HEADER_SIZE;
	size_t len;

	p = put_u64_field(p, 1, r->id);
	p = put_u64_field(p, 2, (uint64_t)(int64_t)r->op);
	p = put_bytes_field(p, 3, r->key, r->klen);
	p = put_bytes_field(p, 4, r->val, r->vlen);
	p = put_u64_field(p, 9, r->serializable);
	p = put_u64_field(p, 10, r->client_id);
	p = put_u64_field(p, 11, r->seq);
	len = (size_t)(p - out) - RK_FRAME_HEADER_SIZE;
	rk_frame_header_write(out, RK_FRAME_CLIENT_REQUEST, (uint32_t)len);
	return RK_FRAME_HEADER_SIZE + len;
}

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (p == end)
			return -1;
		x |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0) {
			*pp = p;
			*v = x;
			return 0;
		}
	}
	return -1;
}

int rkb_resp_decode(const uint8_t *p, size_t n, struct rkb_resp *out)
{
	const uint8_t *end = p + n;
	uint64_t tag, v;

	memset(out, 0, sizeof *out);
	while (p < end) {
		if (get_varint(&p, end, &tag) != 0)
			return -1;
		switch (tag & 7) {
		case WT_VARINT:
			if (get_varint(&p, end, &v) != 0)
				return -1;
			if (tag >> 3 == 1)
				out->id = v;
			else if (tag >> 3 == 2)
				out->status = (int)v;
			break;
		case WT_LEN:
			if (get_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
				return -1;
			if (tag >> 3 == 3) {
				out->vlen = (size_t)v;
			} else if (tag >> 3 == 6) {
				out->hint = (const char *)p;
				out->hint_len = (size_t)v;
			}
			p += v;
			break;
		case WT_I64:
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case WT_I32:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

size_t rkb_b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = out;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*o++ = tab[x >> 18];
		*o++ = tab[x >> 12 & 63];
		*o++ = tab[x >> 6 & 63];
		*o++ = tab[x & 63];
	}
	if (n - i == 1) {
		uint32_t x = (uint32_t)in[i] << 16;

		*o++ = tab[x >> 18];
		*o++ = tab[x >> 12 & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		*o++ = tab[x >> 18];
		*o++ = tab[x >> 12 & 63];
		*o++ = tab[x >> 6 & 63];
		*o++ = '=';
	}
	return (size_t)(o - out);
}

/* Find @needle in [p, p + n). */
static const char *find(const char *p, size_t n, const char *needle)
{
	return memmem(p, n, needle, strlen(needle));
}

/* Value of header @name in the header block [h, h + n) (each line ends in CRLF), or NULL. */
static const char *header(const char *h, size_t n, const char *name, size_t *vlen)
{
	const char *end = h + n, *eol;
	size_t nl = strlen(name);

	for (; h < end; h = eol + 2) {
		eol = find(h, (size_t)(end - h), "\r\n");
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - h) > nl && h[nl] == ':' && strncasecmp(h, name, nl) == 0) {
			h += nl + 1;
			while (h < eol && (*h == ' ' || *h == '\t'))
				h++;
			*vlen = (size_t)(eol - h);
			return h;
		}
		if (eol == end)
			break;
	}
	return NULL;
}

/* Skip a chunked body starting at @p; returns its length in bytes, 0 if incomplete, -1 if bad. */
static long chunked_len(const char *p, size_t n)
{
	size_t off = 0;

	for (;;) {
		const char *eol = find(p + off, n - off, "\r\n");
		size_t size = 0, i;

		if (eol == NULL)
			return 0;
		for (i = off; p + i < eol && p[i] != ';'; i++) {
			char c = p[i];
			int d = c >= '0' && c <= '9' ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

			if (d < 0 || size > ((size_t)1 << 40))
				return -1;
			size = size * 16 + (size_t)d;
		}
		off = (size_t)(eol - p) + 2;
		if (size == 0)
			return n - off >= 2
				       ? (memcmp(p + off, "\r\n", 2) == 0 ? (long)(off + 2) : -1)
				       : 0;
		if (n - off < size + 2)
			return 0;
		off += size + 2;
	}
}

int rkb_http_parse(const char *p, size_t n, struct rkb_http *out, size_t *consumed)
{
	const char *hend, *v;
	size_t hlen, vlen, clen = 0;
	int status = 0;

	if (n >= 5 && memcmp(p, "HTTP/", 5) != 0)
		return -1;
	hend = find(p, n, "\r\n\r\n");
	if (hend == NULL)
		return n > (64u << 10) ? -1 : 0;
	hlen = (size_t)(hend - p) + 4;
	if (hlen < 12 || p[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		status = status * 10 + (p[i] - '0');
	}
	memset(out, 0, sizeof *out);
	out->status = status;
	v = header(p, hlen - 2, "Connection", &vlen);
	out->close = v != NULL && vlen == 5 && strncasecmp(v, "close", 5) == 0;
	v = header(p, hlen - 2, "Transfer-Encoding", &vlen);
	if (v != NULL && vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0) {
		long body = chunked_len(p + hlen, n - hlen);

		if (body <= 0)
			return (int)body;
		*consumed = hlen + (size_t)body;
		return 1;
	}
	v = header(p, hlen - 2, "Content-Length", &vlen);
	if (v != NULL) {
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9' || clen > ((size_t)1 << 40))
				return -1;
			clen = clen * 10 + (size_t)(v[i] - '0');
		}
	}
	if (n - hlen < clen)
		return 0;
	out->body = p + hlen;
	out->body_len = clen;
	*consumed = hlen + clen;
	return 1;
}
