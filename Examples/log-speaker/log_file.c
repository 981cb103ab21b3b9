/* The log speaker's "hardware": lines of fields appended to a file. Nothing here is about the
 * plugin ABI; log_speaker.c is. */

/* O_CLOEXEC is POSIX, not C11; -std=c11 hides everything outside ISO C unless asked. */
#define _POSIX_C_SOURCE 200809L

#include "log_file.h"

#include <speakerbridge/helpers/host.h>
#include <speakerbridge/helpers/text.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* O_APPEND and one write() per line: the kernel places each write at the end atomically, so lines
 * of several instances or processes (a hot reload runs two builds for a moment) never interleave.
 * Closing at once leaves nothing in a buffer if the process dies, and a rotated or deleted file is
 * simply created again. */
sb_status log_file_append(const char *path, char *err, size_t err_size, const char *fmt, ...)
{
    sbh_text text = {0}, line = {0};
    va_list ap;
    va_start(ap, fmt);
    sbh_text_vprintf(&text, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < text.len; i++) {
        unsigned char c = (unsigned char)text.data[i];
        if (c < 0x20 || c == 0x7f) sbh_text_printf(&line, "\\u%04x", (unsigned)c);
        else sbh_text_append(&line, &c, 1);
    }
    line.failed |= text.failed;
    sbh_text_free(&text);
    sbh_text_puts(&line, "\n");
    const char *problem = line.failed ? "out of memory" : NULL;
    int fd = problem ? -1 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 && problem == NULL) problem = strerror(errno);
    if (fd >= 0) {
        ssize_t written = write(fd, line.data, line.len);
        if (written < 0) problem = strerror(errno);
        else if ((size_t)written != line.len) problem = "short write";
        /* close() can report a delayed write error (NFS, a full disk): a lost line is a failure. */
        if (close(fd) != 0 && problem == NULL) problem = strerror(errno);
    }
    sbh_text_free(&line);
    if (problem == NULL) return SB_OK;
    sbh_error(err, err_size, "cannot write %s: %s", path, problem);
    return SB_ERR_FAILED;
}
