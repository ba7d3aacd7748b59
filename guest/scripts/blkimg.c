/*
 * blkimg: the virtio-blk test disk images (a host tool, built by guest/Makefile
 * as build/blkimg; used by scripts/qemu-check.sh and the lodge integration
 * cases tests/integration/cases/guest-virtio-{blk,hostile}.sh).
 *
 * The pattern: 512-byte sector n of disk d holds the 8-byte little-endian
 * value (n * 0x9E3779B97F4A7C15) ^ (d << 56), 64 times.
 *
 *   blkimg SECTORS DISK > FILE     write the pattern image of disk DISK
 *   blkimg check FILE S C          what virtio-blk write=1 wsector=S wcount=C
 *                                  leaves on disk 0: [S, S+C) complemented,
 *                                  [S+C, S+2C) zeros, [S+2C, S+3C) anything
 *                                  (discarded), every other sector its pattern
 *   blkimg verify FILE DISK        every sector of FILE holds disk DISK's pattern
 *
 * Exit status: 0 when the image is as expected (or was written), 1 with one
 * line naming the first wrong sector, 2 for bad usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR_WORDS 64
#define GOLDEN       0x9E3779B97F4A7C15ULL

static uint64_t pattern(uint64_t sector, uint64_t disk)
{
	return (sector * GOLDEN) ^ (disk << 56);
}

static int usage(void)
{
	fputs("usage: blkimg SECTORS DISK > FILE\n"
	      "       blkimg check FILE WSECTOR WCOUNT\n"
	      "       blkimg verify FILE DISK\n", stderr);
	return 2;
}

static int parse(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno == 0 && end != s && *end == 0 && s[0] != '-';
}

static int make(uint64_t sectors, uint64_t disk)
{
	uint64_t w[SECTOR_WORDS];

	for (uint64_t s = 0; s < sectors; s++) {
		for (int i = 0; i < SECTOR_WORDS; i++)
			w[i] = pattern(s, disk);
		if (fwrite(w, sizeof(w[0]), SECTOR_WORDS, stdout) != SECTOR_WORDS) {
			perror("blkimg: write");
			return 1;
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * Compare FILE with disk (disk)'s pattern; with (wcount) > 0, the sectors
 * virtio-blk write=1 changed are expected as it leaves them.
 */
static int compare(const char *file, uint64_t disk, uint64_t s0, uint64_t c)
{
	FILE *f = fopen(file, "rb");
	uint64_t w[SECTOR_WORDS], s;

	if (!f) {
		fprintf(stderr, "blkimg: %s: %s\n", file, strerror(errno));
		return 1;
	}
	for (s = 0; fread(w, sizeof(w[0]), SECTOR_WORDS, f) == SECTOR_WORDS; s++) {
		uint64_t want = pattern(s, disk);

		if (c && s >= s0 && s < s0 + c)
			want = ~want;
		else if (c && s >= s0 + c && s < s0 + 2 * c)
			want = 0;
		else if (c && s >= s0 + 2 * c && s < s0 + 3 * c)
			continue;
		for (int i = 0; i < SECTOR_WORDS; i++) {
			if (w[i] != want) {
				printf("%s: sector %llu word %d: %#llx, expected %#llx\n", file,
				       (unsigned long long)s, i, (unsigned long long)w[i],
				       (unsigned long long)want);
				fclose(f);
				return 1;
			}
		}
	}
	fclose(f);
	if (s == 0) {
		printf("%s: no whole sector\n", file);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t a, b;

	if (argc == 3 && parse(argv[1], &a) && parse(argv[2], &b) && b < 256)
		return make(a, b);
	if (argc == 5 && strcmp(argv[1], "check") == 0 && parse(argv[3], &a) &&
	    parse(argv[4], &b) && b > 0)
		return compare(argv[2], 0, a, b);
	if (argc == 4 && strcmp(argv[1], "verify") == 0 && parse(argv[3], &a) && a < 256)
		return compare(argv[2], a, 0, 0);
	return usage();
}
