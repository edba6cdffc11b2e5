/*
 * hook_vfs.c -- linked into tests/siam-hooked only (Makefile.am): a
 * SQLite VFS over the default one that raises a signal just before the
 * Nth write to a database file, so that tests/crash.sh can kill siam
 * (SIGKILL) or freeze it (SIGSTOP) at an exact point of a transaction:
 * after the schema, between two frames of one commit, before the frame
 * that commits.
 *
 *   SIAM_TEST_KILL_WRITE=N      before write event N (1 = the first)
 *   SIAM_TEST_KILL_SIGNAL=S     the signal (default SIGKILL, 9)
 *
 * A write event is an xWrite, xTruncate or xSync on the main database,
 * its WAL or its rollback journal (not on the -shm, which SQLite maps
 * and rebuilds).  The constructor registers the VFS as the default
 * before main() runs when SIAM_TEST_KILL_WRITE is set; the shipped siam
 * has no such code.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

typedef struct hook_file {
	sqlite3_file base;
	sqlite3_file *real; /* the default VFS's file, right after us */
	int counted;        /* main db, WAL or journal */
} hook_file;

static sqlite3_vfs *real_vfs;
static long kill_at, events;
static int kill_sig = SIGKILL;

static void hook_event(hook_file *f)
{
	if (f->counted && ++events == kill_at)
		raise(kill_sig);
}

#define REAL(f) (((hook_file *)(f))->real)

static int h_close(sqlite3_file *f)
{
	int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) :
	         SQLITE_OK;
	return rc;
}
static int h_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int h_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	hook_event((hook_file *)f);
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int h_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	hook_event((hook_file *)f);
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int h_sync(sqlite3_file *f, int flags)
{
	hook_event((hook_file *)f);
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int h_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int h_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int h_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int h_check(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int h_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int h_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int h_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int h_shmmap(sqlite3_file *f, int pg, int sz, int ext,
                    void volatile **p)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p);
}
static int h_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void h_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int h_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int h_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{
	return REAL(f)->pMethods->xFetch(REAL(f), o, n, p);
}
static int h_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static const sqlite3_io_methods hook_methods = {
	3, h_close, h_read, h_write, h_truncate, h_sync, h_size, h_lock,
	h_unlock, h_check, h_fcntl, h_sector, h_devchar, h_shmmap, h_shmlock,
	h_shmbarrier, h_shmunmap, h_fetch, h_unfetch
};

static int h_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
                  int flags, int *out_flags)
{
	hook_file *f = (hook_file *)file;
	(void)vfs;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)(f + 1);
	f->counted = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL |
	                       SQLITE_OPEN_MAIN_JOURNAL)) != 0;
	int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
	/* SQLite calls xClose only when pMethods is set. */
	f->base.pMethods = f->real->pMethods ? &hook_methods : NULL;
	return rc;
}

static sqlite3_vfs hook_vfs;

__attribute__((constructor)) static void hook_vfs_init(void)
{
	const char *n = getenv("SIAM_TEST_KILL_WRITE");
	const char *s = getenv("SIAM_TEST_KILL_SIGNAL");
	if (!n || atol(n) <= 0 || !(real_vfs = sqlite3_vfs_find(NULL)))
		return;
	kill_at = atol(n);
	if (s && atoi(s) > 0)
		kill_sig = atoi(s);
	/* Everything but xOpen and the file size is the default VFS's. */
	hook_vfs = *real_vfs;
	hook_vfs.szOsFile = (int)sizeof(hook_file) + real_vfs->szOsFile;
	hook_vfs.zName = "siam-test-hook";
	hook_vfs.pNext = NULL;
	hook_vfs.xOpen = h_open;
	sqlite3_vfs_register(&hook_vfs, 1);
}
