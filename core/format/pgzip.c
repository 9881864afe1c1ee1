/* pgzip.c - gzip compression on several threads, the same bytes on any number.
 *
 * The caller's thread fills a ring of slots, PGZIP_BLOCK bytes each, and
 * hands each full slot to the workers; a worker compresses it with libdeflate
 * into a gzip member in the slot's own output buffer; the caller's thread
 * emits finished slots strictly in order and reuses them.  The only shared
 * state is each slot's `state` and the counters, all under `mu`: a slot's
 * buffers belong to the caller while FREE, to a worker while BUSY, and are
 * only read by anyone while READY or DONE.
 *
 * libdeflate compresses whole buffers, about twice as fast as zlib at the
 * same level and smaller, but cannot end a run with a sync flush to join the
 * next; so each block is a member of its own, as bgzip and eStargz write.
 */
#include "core/format/pgzip.h"

#include "core/base/digest.h"
#include "core/base/err.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>

#define PGZ_TRIAL (8u << 10)
#define PGZ_SAMPLE (32u << 10)
#define PGZ_MAX_THREADS 16
#define PGZ_HEADER 10
#define PGZ_TRAILER 8
/* a member, stored: the block in 65,535-byte stored blocks of 5 header bytes */
#define PGZ_OUT_CAP (PGZ_HEADER + PGZIP_BLOCK + 5 * (PGZIP_BLOCK / 65535 + 1) + PGZ_TRAILER)

enum pgz_state { PGZ_FREE, PGZ_READY, PGZ_BUSY, PGZ_DONE };

struct pgz_slot {
	unsigned char *in;	/* the block */
	size_t n;		/* its bytes */
	unsigned char *out;	/* its gzip member */
	size_t out_len;
	int deflated;		/* deflated, not stored */
	int failed;
	enum pgz_state state;
};

/* One thread's compressors, reused block after block: at level 1 for the
 * trial compression, and at the level asked for. */
struct pgz_coder {
	struct libdeflate_compressor *trial, *main;
	unsigned char *scratch;	/* trial output */
};

struct pgzip {
	int level;
	pgzip_emit_fn *emit;
	void *arg;
	struct pgz_slot *slots;
	size_t n_slots;		/* allocated */
	size_t ring;		/* in use: 2 on the caller's thread alone, all with workers */
	uint64_t base;		/* block `seq` is in slots[(seq - base) % ring] */
	uint64_t submitted;	/* blocks handed over; slot_at(submitted) is being filled */
	uint64_t emitted;	/* blocks emitted */
	uint64_t taken;		/* blocks a worker has started */
	struct digest_ctx *raw;	/* hashed with the input in order, or NULL */
	uint64_t hashed;	/* blocks `raw` has seen */
	int hash_failed;
	int hash_thread;	/* th[n_threads - 1] is the hasher */
	struct pgz_coder self;	/* the caller's coder, when no thread runs */
	int want_threads;
	uint64_t deflated;	/* blocks the caller's thread deflated */
	size_t n_threads;
	pthread_t th[PGZ_MAX_THREADS + 1];	/* the workers, then the hasher */
	struct pgzip_worker {
		struct pgzip *z;
		struct pgz_coder c;
	} *workers;
	size_t n_workers;
	pthread_mutex_t mu;
	/* the workers wait on `work` (one woken per block), the hasher on
	 * `hwork`, the caller on `done`: a wakeup costs more than a block's
	 * bookkeeping on a virtual machine */
	pthread_cond_t work, hwork, done;
	int sync_init;
	int stop;
	int failed;
	int finished;
};

static struct pgz_slot *slot_at(struct pgzip *z, uint64_t seq)
{
	return &z->slots[(seq - z->base) % z->ring];
}

static void coder_release(struct pgz_coder *c)
{
	libdeflate_free_compressor(c->trial);
	libdeflate_free_compressor(c->main);
	free(c->scratch);
	memset(c, 0, sizeof(*c));
}

/* gzip spends as long on data it cannot shrink (compressed or encrypted
 * files, random bytes) as on data it can.  A block whose start looks
 * incompressible (a flat byte histogram over PGZ_SAMPLE bytes, and a trial
 * compression of PGZ_TRIAL bytes at level 1 that saves under 2%) is stored.
 * The choice depends on the bytes only: 1 stored, 0 deflated, -1 out of
 * memory (an error, never another choice). */
static int coder_incompressible(struct pgz_coder *c, const unsigned char *p, size_t n)
{
	uint32_t cnt[256];
	uint64_t sq = 0;
	size_t i, k;

	if (n < PGZ_TRIAL)
		return 0;
	if (n > PGZ_SAMPLE)
		n = PGZ_SAMPLE;	/* the block's start speaks for it */
	memset(cnt, 0, sizeof(cnt));
	for (i = 0; i < n; i++)
		cnt[p[i]]++;
	for (i = 0; i < 256; i++)
		sq += (uint64_t)cnt[i] * cnt[i];
	/* Renyi entropy of the bytes above ~7.93 bits: 256 sum(c^2) < 1.05 n^2
	 * (+ the 256 n that uniform random bytes add on average) */
	if (sq * 25600 >= (uint64_t)n * n * 105 + (uint64_t)n * 25600 * 256)
		return 0;
	if (!c->scratch && !(c->scratch = malloc(PGZ_TRIAL)))
		return -1;
	if (!c->trial && !(c->trial = libdeflate_alloc_compressor(1)))
		return -1;
	/* 0: it did not even fit in PGZ_TRIAL bytes */
	k = libdeflate_deflate_compress(c->trial, p, PGZ_TRIAL, c->scratch, PGZ_TRIAL);
	return k == 0 || (uint64_t)k * 100 >= (uint64_t)PGZ_TRIAL * 98;
}

/* Stores `n` bytes at `o` as deflate stored blocks (at most 65,535 bytes
 * each; one, empty, when n is 0), the last one final; returns the end.  The
 * first starts on a byte boundary, so the 3 header bits take a byte of their
 * own: BFINAL, then BTYPE 00. */
static unsigned char *coder_store(unsigned char *o, const unsigned char *p, size_t n)
{
	do {
		size_t k = n > 65535 ? 65535 : n;

		*o++ = k == n ? 1 : 0;
		*o++ = (unsigned char)(k & 0xff);
		*o++ = (unsigned char)(k >> 8);
		*o++ = (unsigned char)(~k & 0xff);
		*o++ = (unsigned char)((~k >> 8) & 0xff);
		memcpy(o, p, k);
		o += k;
		p += k;
		n -= k;
	} while (n);
	return o;
}

/* Compresses one slot into a gzip member of its own: header, deflate stream
 * (or stored blocks, when it looks incompressible or does not shrink),
 * CRC-32 and size. */
static void coder_run(struct pgz_coder *c, int level, struct pgz_slot *s)
{
	/* MTIME 0, no name, OS 255: the same on every machine; XFL as gzip
	 * sets it for the level */
	static const unsigned char head[PGZ_HEADER] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255 };
	unsigned char *o = s->out, *end;
	uint32_t crc = libdeflate_crc32(0, s->in, s->n);
	size_t k = 0;
	int i, stored;

	memcpy(o, head, sizeof(head));
	o[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
	o += PGZ_HEADER;
	s->deflated = 0;
	if ((stored = coder_incompressible(c, s->in, s->n)) < 0) {
		s->failed = 1;
		return;
	}
	if (!stored) {
		s->deflated = 1;
		if (!c->main && !(c->main = libdeflate_alloc_compressor(level))) {
			s->failed = 1;
			return;
		}
		/* 0 when it would not fit in the stored size: stored, then */
		k = libdeflate_deflate_compress(c->main, s->in, s->n, o,
						PGZ_OUT_CAP - PGZ_HEADER - PGZ_TRAILER);
	}
	end = k ? o + k : coder_store(o, s->in, s->n);
	for (i = 0; i < 4; i++) {
		end[i] = (unsigned char)(crc >> (8 * i));
		end[4 + i] = (unsigned char)((uint64_t)s->n >> (8 * i));
	}
	s->out_len = (size_t)(end + PGZ_TRAILER - s->out);
}

static void *worker_main(void *arg)
{
	struct pgzip_worker *wk = arg;
	struct pgzip *z = wk->z;

	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct pgz_slot *s;

		while (!z->stop && z->taken == z->submitted)
			pthread_cond_wait(&z->work, &z->mu);
		if (z->stop)
			break;
		s = slot_at(z, z->taken++);
		s->state = PGZ_BUSY;
		pthread_mutex_unlock(&z->mu);
		coder_run(&wk->c, z->level, s);
		pthread_mutex_lock(&z->mu);
		s->state = PGZ_DONE;
		pthread_cond_broadcast(&z->done);
	}
	pthread_mutex_unlock(&z->mu);
	return NULL;
}

/* Hashes the input into `raw`, block after block, beside the workers: the
 * caller's thread, which reads files and feeds the stream, is the one to
 * spare. */
static void *hasher_main(void *arg)
{
	struct pgzip *z = arg;

	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct pgz_slot *s;
		int rc;

		while (!z->stop && z->hashed == z->submitted)
			pthread_cond_wait(&z->hwork, &z->mu);
		if (z->stop)
			break;
		s = slot_at(z, z->hashed);
		pthread_mutex_unlock(&z->mu);
		rc = z->hash_failed ? 0 : digest_ctx_update(z->raw, s->in, s->n, NULL);
		pthread_mutex_lock(&z->mu);
		if (rc < 0)
			z->hash_failed = 1;
		z->hashed++;
		pthread_cond_broadcast(&z->done);
	}
	pthread_mutex_unlock(&z->mu);
	return NULL;
}

static void threads_stop(struct pgzip *z)
{
	size_t i;

	if (!z->n_threads)
		return;
	pthread_mutex_lock(&z->mu);
	z->stop = 1;
	pthread_cond_broadcast(&z->work);
	pthread_cond_broadcast(&z->hwork);
	pthread_mutex_unlock(&z->mu);
	for (i = 0; i < z->n_threads; i++)
		pthread_join(z->th[i], NULL);
	z->n_threads = 0;
}

/* Starts the workers; with none started, the caller's thread compresses. */
static void threads_start(struct pgzip *z)
{
	size_t i, n = (size_t)z->want_threads;
	size_t cur = (size_t)((z->submitted - z->base) % z->ring);

	z->want_threads = 1;	/* once */
	/* Every block before the one being filled is emitted: the ring widens
	 * to all slots, with the one being filled keeping its place. */
	z->ring = z->n_slots;
	z->base = z->submitted - cur;
	z->taken = z->submitted;
	z->hashed = z->submitted;
	if (pthread_mutex_init(&z->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&z->work, NULL) != 0) {
		pthread_mutex_destroy(&z->mu);
		return;
	}
	if (pthread_cond_init(&z->done, NULL) != 0) {
		pthread_cond_destroy(&z->work);
		pthread_mutex_destroy(&z->mu);
		return;
	}
	if (pthread_cond_init(&z->hwork, NULL) != 0) {
		pthread_cond_destroy(&z->done);
		pthread_cond_destroy(&z->work);
		pthread_mutex_destroy(&z->mu);
		return;
	}
	z->sync_init = 1;
	z->workers = calloc(n, sizeof(*z->workers));
	if (!z->workers)
		return;
	z->n_workers = n;
	for (i = 0; i < n; i++) {
		z->workers[i].z = z;
		if (pthread_create(&z->th[i], NULL, worker_main, &z->workers[i]) != 0)
			break;
		z->n_threads++;
	}
	if (z->n_threads && z->raw &&
	    pthread_create(&z->th[z->n_threads], NULL, hasher_main, z) == 0) {
		z->n_threads++;
		z->hash_thread = 1;
	}
}

/* A slot's buffers, on its first use: a short stream touches few. */
static int slot_alloc(struct pgz_slot *s)
{
	s->in = malloc(PGZIP_BLOCK);
	s->out = malloc(PGZ_OUT_CAP);
	return s->in && s->out ? 0 : -1;
}

static int fail(struct pgzip *z, struct err *e, int code, const char *msg)
{
	z->failed = 1;
	return err_set(e, code, "%s", msg);
}

/* Emits finished blocks in order; with `wait`, waits for the oldest one. */
static int drain(struct pgzip *z, int wait, struct err *e)
{
	while (z->emitted < z->submitted) {
		struct pgz_slot *s = slot_at(z, z->emitted);
		int rc;

		if (z->n_threads) {
			int ready;

			pthread_mutex_lock(&z->mu);
			/* emitted once compressed and hashed: then the slot is free */
			while (!(ready = s->state == PGZ_DONE && z->hashed > z->emitted) && wait)
				pthread_cond_wait(&z->done, &z->mu);
			pthread_mutex_unlock(&z->mu);
			if (!ready)
				return 0;
		}
		wait = 0;
		if (s->failed)
			return fail(z, e, ERR_NOMEM, "out of memory for gzip compression");
		if (z->hash_failed)
			return fail(z, e, ERR_FAIL, "hashing the layer failed");
		if ((rc = z->emit(z->arg, s->out, s->out_len, e)) < 0) {
			z->failed = 1;
			return rc;
		}
		s->state = PGZ_FREE;
		z->emitted++;
	}
	return 0;
}

/* Emits every block handed over, waiting for each. */
static int drain_all(struct pgzip *z, struct err *e)
{
	int rc;

	while (z->emitted < z->submitted)
		if ((rc = drain(z, 1, e)) < 0)
			return rc;
	return 0;
}

/* Hands the slot being filled over, and readies the next one. */
static int submit(struct pgzip *z, int finish, struct err *e)
{
	struct pgz_slot *s = slot_at(z, z->submitted), *next;
	int rc;

	/* an empty last block adds nothing, unless the stream is empty: then
	 * it is the stream's one (empty) member */
	if (finish && !s->n && z->submitted)
		return drain_all(z, e);
	/* Threads pay for themselves once blocks need deflating: stored
	 * (incompressible) blocks cost less than a thread's fresh memory. */
	if (!finish && z->want_threads > 1 && z->deflated >= 2)
		threads_start(z);
	if (z->raw && !z->hash_thread &&
	    digest_ctx_update(z->raw, s->in, s->n, NULL) < 0)
		return fail(z, e, ERR_FAIL, "hashing the layer failed");
	if (z->n_threads) {
		pthread_mutex_lock(&z->mu);
		s->state = PGZ_READY;
		z->submitted++;
		if (!z->hash_thread)
			z->hashed = z->submitted;
		pthread_cond_signal(&z->work);
		if (z->hash_thread)
			pthread_cond_signal(&z->hwork);
		pthread_mutex_unlock(&z->mu);
	} else {
		coder_run(&z->self, z->level, s);
		z->deflated += (uint64_t)s->deflated;
		s->state = PGZ_DONE;
		z->submitted++;
		z->hashed = z->submitted;
	}
	if (finish)
		return drain_all(z, e);
	if ((rc = drain(z, 0, e)) < 0)
		return rc;
	/* the ring is full: the next slot is the oldest, still unemitted */
	if (z->submitted - z->emitted >= z->ring && (rc = drain(z, 1, e)) < 0)
		return rc;
	next = slot_at(z, z->submitted);
	if (!next->in && slot_alloc(next) < 0)
		return fail(z, e, ERR_NOMEM, "out of memory");
	next->n = 0;
	next->failed = 0;
	return 0;
}

int pgzip_new(struct pgzip **out, int level, int threads, struct digest_ctx *raw,
	      pgzip_emit_fn *emit, void *arg, struct err *e)
{
	struct pgzip *z;

	*out = NULL;
	if (level < 1 || level > 9)
		return err_set(e, ERR_INVALID, "gzip level %d is not between 1 and 9", level);
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (int)n : 1;
	}
	if (threads > PGZ_MAX_THREADS)
		threads = PGZ_MAX_THREADS;
	z = calloc(1, sizeof(*z));
	if (!z)
		return err_set(e, ERR_NOMEM, "out of memory");
	z->level = level;
	z->emit = emit;
	z->arg = arg;
	z->raw = raw;
	z->want_threads = threads;
	/* two blocks in flight per worker keep them busy while one is emitted */
	z->n_slots = threads > 1 ? 2 * (size_t)threads + 2 : 2;
	z->ring = 2;
	z->slots = calloc(z->n_slots, sizeof(*z->slots));
	if (!z->slots)
		goto fail;
	if (slot_alloc(&z->slots[0]) < 0)
		goto fail;
	*out = z;
	return 0;
fail:
	pgzip_free(z);
	return err_set(e, ERR_NOMEM, "out of memory");
}

int pgzip_write(struct pgzip *z, const void *data, size_t len, struct err *e)
{
	const unsigned char *p = data;

	if (z->failed || z->finished)
		return err_set(e, ERR_FAIL, "gzip stream used after it failed or finished");
	while (len) {
		struct pgz_slot *s = slot_at(z, z->submitted);
		size_t k = PGZIP_BLOCK - s->n < len ? PGZIP_BLOCK - s->n : len;
		int rc;

		memcpy(s->in + s->n, p, k);
		s->n += k;
		p += k;
		len -= k;
		if (s->n == PGZIP_BLOCK && (rc = submit(z, 0, e)) < 0)
			return rc;
	}
	return 0;
}

int pgzip_finish(struct pgzip *z, struct err *e)
{
	int rc;

	if (z->failed || z->finished)
		return err_set(e, ERR_FAIL, "gzip stream used after it failed or finished");
	if ((rc = submit(z, 1, e)) < 0)
		return rc;
	z->finished = 1;
	threads_stop(z);
	return 0;
}

void pgzip_free(struct pgzip *z)
{
	size_t i;

	if (!z)
		return;
	threads_stop(z);
	for (i = 0; i < z->n_workers; i++)
		coder_release(&z->workers[i].c);
	free(z->workers);
	if (z->sync_init) {
		pthread_cond_destroy(&z->hwork);
		pthread_cond_destroy(&z->done);
		pthread_cond_destroy(&z->work);
		pthread_mutex_destroy(&z->mu);
	}
	coder_release(&z->self);
	for (i = 0; z->slots && i < z->n_slots; i++) {
		free(z->slots[i].in);
		free(z->slots[i].out);
	}
	free(z->slots);
	free(z);
}
