/* Command-line access: words "key=value" or "key", split once on first use. */
#include "guest.h"

#define MAX_WORDS 128

static char words[BOOT_CMDLINE_MAX];
static const char *keys[MAX_WORDS], *values[MAX_WORDS];
static unsigned nwords;
static bool split_done;

static void split(void)
{
	char *p = words;

	split_done = true;
	strlcpy(words, boot_info()->cmdline, sizeof(words));
	while (*p && nwords < MAX_WORDS) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		keys[nwords] = p;
		values[nwords] = "";
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '=')
			p++;
		if (*p == '=') {
			*p++ = 0;
			if (*p == '"') {
				values[nwords] = ++p;
				while (*p && *p != '"')
					p++;
			} else {
				values[nwords] = p;
				while (*p && *p != ' ' && *p != '\t' && *p != '\n')
					p++;
			}
		}
		nwords++;
		if (*p)
			*p++ = 0;
	}
}

const char *cmdline(void)
{
	return boot_info()->cmdline;
}

const char *cmdline_get(const char *key)
{
	const char *v = NULL;

	if (!split_done)
		split();
	/* The last occurrence wins, as on Linux. */
	for (unsigned i = 0; i < nwords; i++) {
		if (strcmp(keys[i], key) == 0)
			v = values[i];
	}
	return v;
}

bool cmdline_has(const char *key)
{
	return cmdline_get(key) != NULL;
}

uint64_t cmdline_get_u64(const char *key, uint64_t def)
{
	const char *v = cmdline_get(key), *end;
	uint64_t n;

	if (!v || !parse_u64(v, &end, &n) || *end)
		return def;
	return n;
}

bool cmdline_flag(const char *key)
{
	const char *v = cmdline_get(key);

	if (!v)
		return false;
	return !*v || strcmp(v, "1") == 0 || strcmp(v, "y") == 0 || strcmp(v, "yes") == 0 ||
	       strcmp(v, "on") == 0 || strcmp(v, "true") == 0;
}
