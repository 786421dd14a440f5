// zlib from Debian's zlib1g-dev: gzip-compressed IDX files and PNG's deflate stream.
#include <zlib.h>
