/* The log speaker's "hardware": lines appended to a file (log_file.c). */
#ifndef LOG_SPEAKER_LOG_FILE_H
#define LOG_SPEAKER_LOG_FILE_H

#include <speakerbridge_plugin.h>

/* A field of a line: "-" for an empty or missing one, so the fields stay countable. */
#define LOG_FIELD(s) ((s) != NULL && (s)[0] != '\0' ? (s) : "-")

/* Appends one line, printf-style, to the file at `path` (created if missing). A control character
 * in it becomes a JSON-style escape, so a newline in a command argument cannot forge a second
 * line. SB_OK, or SB_ERR_FAILED with the reason in `err`. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
sb_status log_file_append(const char *path, char *err, size_t err_size, const char *fmt, ...);

#endif
