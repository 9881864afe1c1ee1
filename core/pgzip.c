/* pgzip.c - gzip compression on several threads, the same bytes on any number.
 *
 * The caller's thread fills a ring of slots, PGZIP_BLOCK bytes each, and
 * hands each full slot to the workers; a worker deflates it into the slot's
 * own output buffer; the caller's thread emits finished slots strictly in
 * order and reuses them.  The only shared state is each slot's `state` and
 * the counters, all under `mu`: a slot's buffers belong to the caller while
 * FREE, to a worker while BUSY, and are only read by anyone while READY or
 * DONE.
 */
#include "core/pgzip.h"

#include "core/digest.h"
#include "core/err.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define PGZ_DICT (32u << 10)	/* deflate's window: the most a dictionary can help */
#define PGZ_TRIAL (8u << 10)
#define PGZ_SAMPLE (32u << 10)
#define PGZ_MAX_THREADS 16
#define PGZ_OUT_CAP (PGZIP_BLOCK + PGZIP_BLOCK / 8 + 1024)

enum pgz_state { PGZ_FREE, PGZ_READY, PGZ_BUSY, PGZ_DONE };

struct pgz_slot {
	unsigned char *in;	/* PGZ_DICT dictionary bytes, then the block */
	size_t dict;		/* dictionary bytes at in[0] */
	size_t n;		/* block bytes at in[dict] */
	unsigned char *out;
	size_t out_cap, out_len;
	uLong crc;		/* crc32 of the block */
	int finish;		/* the last block: ends the deflate stream */
	int deflated;		/* deflated, not stored */
	int failed;
	enum pgz_state state;
};

/* One thread's zlib state, reused block after block: for the trial
 * compression at level 1, then for the block at the level asked for. */
struct pgz_coder {
	z_stream z;
	int z_init;
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
	int header_done;
	uLong crc;
	uint64_t total;
	int failed;
	int finished;
};

static struct pgz_slot *slot_at(struct pgzip *z, uint64_t seq)
{
	return &z->slots[(seq - z->base) % z->ring];
}

static void coder_release(struct pgz_coder *c)
{
	if (c->z_init)
		deflateEnd(&c->z);
	free(c->scratch);
	memset(c, 0, sizeof(*c));
}

/* The coder's stream, reset, at `level`. */
static int coder_stream(struct pgz_coder *c, int level)
{
	if (!c->z_init) {
		memset(&c->z, 0, sizeof(c->z));
		if (deflateInit2(&c->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		c->z_init = 1;
		return 0;
	}
	if (deflateReset(&c->z) != Z_OK)
		return -1;
	/* before any input: only sets the level */
	return deflateParams(&c->z, level, Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -1;
}

/* gzip spends as long on data it cannot shrink (compressed or encrypted
 * files, random bytes) as on data it can.  A block whose start looks
 * incompressible (a flat byte histogram over PGZ_SAMPLE bytes, and a trial
 * compression of PGZ_TRIAL bytes at level 1 that saves under 2%) is stored.
 * The choice depends on the bytes only. */
static int coder_incompressible(struct pgz_coder *c, const unsigned char *p, size_t n)
{
	uint32_t cnt[256];
	uint64_t sq = 0;
	size_t i;

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
	if (!c->scratch && !(c->scratch = malloc(2 * PGZ_TRIAL)))
		return 0;
	if (coder_stream(c, 1) < 0)
		return 0;
	c->z.next_in = (Bytef *)(uintptr_t)p;
	c->z.avail_in = PGZ_TRIAL;
	c->z.next_out = c->scratch;
	c->z.avail_out = 2 * PGZ_TRIAL;
	if (deflate(&c->z, Z_FINISH) != Z_STREAM_END)
		return 0;
	return (uint64_t)c->z.total_out * 100 >= (uint64_t)PGZ_TRIAL * 98;
}

/* Stores `n` bytes as deflate stored blocks (at most 65,535 bytes each;
 * one, empty, when n is 0).  Every slot starts on a byte boundary (after a
 * sync flush or a stored block), so the 3 header bits take a byte of their
 * own: BFINAL, then BTYPE 00. */
static void coder_store(struct pgz_slot *s, const unsigned char *p, size_t n)
{
	unsigned char *o = s->out;

	do {
		size_t k = n > 65535 ? 65535 : n;

		*o++ = s->finish && k == n ? 1 : 0;
		*o++ = (unsigned char)(k & 0xff);
		*o++ = (unsigned char)(k >> 8);
		*o++ = (unsigned char)(~k & 0xff);
		*o++ = (unsigned char)((~k >> 8) & 0xff);
		memcpy(o, p, k);
		o += k;
		p += k;
		n -= k;
	} while (n);
	s->out_len = (size_t)(o - s->out);
}

/* Deflates one slot: a raw deflate run primed with the slot's dictionary and
 * ended with a sync flush (byte aligned, not final), or with the final block
 * when it is the last. */
static void coder_run(struct pgz_coder *c, int level, struct pgz_slot *s)
{
	const unsigned char *p = s->in + s->dict;
	z_stream *zs;
	int rc;

	s->out_len = 0;
	s->crc = crc32(0L, p, (uInt)s->n);
	s->deflated = 0;
	if (coder_incompressible(c, p, s->n)) {
		coder_store(s, p, s->n);
		return;
	}
	s->deflated = 1;
	zs = &c->z;
	rc = coder_stream(c, level);
	if (rc == 0 && s->dict && deflateSetDictionary(zs, s->in, (uInt)s->dict) != Z_OK)
		rc = -1;
	if (rc < 0) {
		s->failed = 1;
		return;
	}
	zs->next_in = (Bytef *)(uintptr_t)p;
	zs->avail_in = (uInt)s->n;
	for (;;) {
		int zr;

		zs->next_out = s->out + s->out_len;
		zs->avail_out = (uInt)(s->out_cap - s->out_len);
		zr = deflate(zs, s->finish ? Z_FINISH : Z_SYNC_FLUSH);
		s->out_len = s->out_cap - zs->avail_out;
		if (zr == Z_STREAM_ERROR) {
			s->failed = 1;
			return;
		}
		if (s->finish ? zr == Z_STREAM_END : (zs->avail_in == 0 && zs->avail_out != 0))
			return;
		if (zs->avail_out == 0) {	/* never at these sizes; still correct */
			unsigned char *o = realloc(s->out, s->out_cap * 2);

			if (!o) {
				s->failed = 1;
				return;
			}
			s->out = o;
			s->out_cap *= 2;
		}
	}
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
		rc = z->hash_failed ? 0 : digest_ctx_update(z->raw, s->in + s->dict, s->n, NULL);
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
	s->in = malloc(PGZ_DICT + PGZIP_BLOCK);
	s->out = malloc(PGZ_OUT_CAP);
	if (!s->in || !s->out)
		return -1;
	s->out_cap = PGZ_OUT_CAP;
	return 0;
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
			return fail(z, e, ERR_FAIL, "gzip compression failed");
		if (z->hash_failed)
			return fail(z, e, ERR_FAIL, "hashing the layer failed");
		if (!z->header_done) {
			/* MTIME 0, no name, OS 255: the same on every machine;
			 * XFL as zlib sets it for the level */
			unsigned char h[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255 };

			h[8] = z->level == 9 ? 2 : z->level == 1 ? 4 : 0;
			if ((rc = z->emit(z->arg, h, sizeof(h), e)) < 0) {
				z->failed = 1;
				return rc;
			}
			z->header_done = 1;
		}
		if ((rc = z->emit(z->arg, s->out, s->out_len, e)) < 0) {
			z->failed = 1;
			return rc;
		}
		z->crc = crc32_combine(z->crc, s->crc, (z_off_t)s->n);
		z->total += s->n;
		s->state = PGZ_FREE;
		z->emitted++;
	}
	return 0;
}

/* Hands the slot being filled over, and readies the next one. */
static int submit(struct pgzip *z, int finish, struct err *e)
{
	struct pgz_slot *s = slot_at(z, z->submitted), *next;
	int rc;

	s->finish = finish;
	/* Threads pay for themselves once blocks need deflating: stored
	 * (incompressible) blocks cost less than a thread's fresh memory. */
	if (!finish && z->want_threads > 1 && z->deflated >= 2)
		threads_start(z);
	if (z->raw && !z->hash_thread &&
	    digest_ctx_update(z->raw, s->in + s->dict, s->n, NULL) < 0)
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
	if ((rc = drain(z, finish, e)) < 0)
		return rc;
	if (finish) {
		while (z->emitted < z->submitted)
			if ((rc = drain(z, 1, e)) < 0)
				return rc;
		return 0;
	}
	/* the ring is full: the next slot is the oldest, still unemitted */
	if (z->submitted - z->emitted >= z->ring && (rc = drain(z, 1, e)) < 0)
		return rc;
	next = slot_at(z, z->submitted);
	if (!next->in && slot_alloc(next) < 0)
		return fail(z, e, ERR_NOMEM, "out of memory");
	/* the dictionary: the last PGZ_DICT bytes of the block just handed over
	 * (only read, also by the worker compressing it) */
	memcpy(next->in, s->in + s->dict + s->n - PGZ_DICT, PGZ_DICT);
	next->dict = PGZ_DICT;
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
	z->crc = crc32(0L, Z_NULL, 0);
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

		memcpy(s->in + s->dict + s->n, p, k);
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
	unsigned char t[8];
	int rc, i;

	if (z->failed || z->finished)
		return err_set(e, ERR_FAIL, "gzip stream used after it failed or finished");
	if ((rc = submit(z, 1, e)) < 0)
		return rc;
	for (i = 0; i < 4; i++) {
		t[i] = (unsigned char)(z->crc >> (8 * i));
		t[4 + i] = (unsigned char)(z->total >> (8 * i));	/* ISIZE: mod 2^32 */
	}
	if ((rc = z->emit(z->arg, t, sizeof(t), e)) < 0) {
		z->failed = 1;
		return rc;
	}
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
