/* The smallest test harness that reports well: CHECK keeps going and counts, main returns the
 * failure count. Unit tests run under AddressSanitizer/UBSan (`make check`). */
#ifndef SONOS_TEST_CHECK_H
#define SONOS_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        check_count++;                                                                     \
        if (!(cond)) {                                                                     \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                                  \
    } while (0)

#define CHECK_STR(actual, expected)                                                        \
    do {                                                                                   \
        const char *a_ = (actual), *e_ = (expected);                                       \
        check_count++;                                                                     \
        if (a_ == NULL || e_ == NULL ? a_ != e_ : strcmp(a_, e_) != 0) {                   \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__,     \
                    e_ ? e_ : "(null)", a_ ? a_ : "(null)");                               \
        }                                                                                  \
    } while (0)

#define CHECK_DONE(name)                                                                   \
    (fprintf(stderr, "%s: %d checks, %d failed\n", (name), check_count, check_failures),   \
     check_failures)

#endif
