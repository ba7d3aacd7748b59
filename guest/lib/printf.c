/* A small printf core shared by vsnprintf and the console's vprintf. */
#include "console.h"
#include "libc.h"
#include "printf_core.h"

struct spec {
	bool left, zero, alt;
	int width, prec;
	int size;       /* 0 int, 1 long, 2 long long, 3 size_t */
};

static void emit(struct out *o, char c)
{
	o->put(c, o->ctx);
	o->n++;
}

static void pad(struct out *o, int n, char c)
{
	while (n-- > 0)
		emit(o, c);
}

static void emit_str(struct out *o, const struct spec *sp, const char *s)
{
	int len;

	if (!s)
		s = "(null)";
	len = (int)strnlen(s, sp->prec >= 0 ? (size_t)sp->prec : (size_t)-1);
	if (!sp->left)
		pad(o, sp->width - len, ' ');
	for (int i = 0; i < len; i++)
		emit(o, s[i]);
	if (sp->left)
		pad(o, sp->width - len, ' ');
}

static void emit_num(struct out *o, const struct spec *sp, uint64_t v, unsigned base, bool upper,
		     bool neg, const char *prefix)
{
	char buf[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int len = 0, plen = (int)strlen(prefix) + (neg ? 1 : 0);

	do {
		buf[len++] = digits[v % base];
		v /= base;
	} while (v);
	int fill = sp->width - len - plen;
	if (!sp->left && !sp->zero)
		pad(o, fill, ' ');
	if (neg)
		emit(o, '-');
	while (*prefix)
		emit(o, *prefix++);
	if (!sp->left && sp->zero)
		pad(o, fill, '0');
	while (len)
		emit(o, buf[--len]);
	if (sp->left)
		pad(o, fill, ' ');
}

static uint64_t arg_unsigned(va_list *ap, int size)
{
	switch (size) {
	case 0:
		return va_arg(*ap, unsigned int);
	case 1:
		return va_arg(*ap, unsigned long);
	case 2:
		return va_arg(*ap, unsigned long long);
	default:
		return va_arg(*ap, size_t);
	}
}

static int64_t arg_signed(va_list *ap, int size)
{
	switch (size) {
	case 0:
		return va_arg(*ap, int);
	case 1:
		return va_arg(*ap, long);
	case 2:
		return va_arg(*ap, long long);
	default:
		return (int64_t)va_arg(*ap, size_t);
	}
}

/* Parse flags, width, precision and length of one conversion at (*f). */
static void parse_spec(const char **f, struct spec *sp, va_list *ap)
{
	const char *p = *f;

	*sp = (struct spec){ .prec = -1 };
	for (;; p++) {
		if (*p == '-')
			sp->left = true;
		else if (*p == '0')
			sp->zero = true;
		else if (*p == '#')
			sp->alt = true;
		else if (*p != ' ' && *p != '+')
			break;
	}
	if (*p == '*') {
		sp->width = va_arg(*ap, int);
		p++;
	}
	while (*p >= '0' && *p <= '9')
		sp->width = sp->width * 10 + (*p++ - '0');
	if (*p == '.') {
		p++;
		sp->prec = 0;
		if (*p == '*') {
			sp->prec = va_arg(*ap, int);
			p++;
		}
		while (*p >= '0' && *p <= '9')
			sp->prec = sp->prec * 10 + (*p++ - '0');
	}
	if (*p == 'l') {
		sp->size = 1;
		if (*++p == 'l') {
			sp->size = 2;
			p++;
		}
	} else if (*p == 'z') {
		sp->size = 3;
		p++;
	} else if (*p == 'h') {
		while (*p == 'h')
			p++;
	}
	*f = p;
}

int format(struct out *o, const char *fmt, va_list ap_in)
{
	va_list ap;
	struct spec sp;

	va_copy(ap, ap_in);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			emit(o, *f);
			continue;
		}
		f++;
		parse_spec(&f, &sp, &ap);
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = arg_signed(&ap, sp.size);
			emit_num(o, &sp, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, false, v < 0, "");
			break;
		}
		case 'u':
			emit_num(o, &sp, arg_unsigned(&ap, sp.size), 10, false, false, "");
			break;
		case 'x':
		case 'X':
			emit_num(o, &sp, arg_unsigned(&ap, sp.size), 16, *f == 'X', false,
				 sp.alt ? "0x" : "");
			break;
		case 'o':
			emit_num(o, &sp, arg_unsigned(&ap, sp.size), 8, false, false, "");
			break;
		case 'p':
			emit_num(o, &sp, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false, false, "0x");
			break;
		case 's':
			emit_str(o, &sp, va_arg(ap, const char *));
			break;
		case 'c': {
			char s[2] = { (char)va_arg(ap, int), 0 };
			emit_str(o, &sp, s);
			break;
		}
		case '%':
			emit(o, '%');
			break;
		case 0:
			f--;
			break;
		default:
			emit(o, '%');
			emit(o, *f);
			break;
		}
	}
	va_end(ap);
	return (int)o->n;
}

struct buf_ctx {
	char *buf;
	size_t size, pos;
};

static void buf_put(char c, void *ctx)
{
	struct buf_ctx *b = ctx;

	if (b->pos + 1 < b->size)
		b->buf[b->pos++] = c;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_ctx b = { buf, size, 0 };
	struct out o = { buf_put, &b, 0 };
	int n = format(&o, fmt, ap);

	if (size)
		buf[b.pos] = 0;
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
