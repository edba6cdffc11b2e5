#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
int sqlite3_siam_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);
int sqlite3_siam_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) { (void)db; (void)pzErrMsg; SQLITE_EXTENSION_INIT2(pApi); return SQLITE_OK; }
