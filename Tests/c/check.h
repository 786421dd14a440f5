/*
 * check.h -- the counters and CHECK macros shared by the C API test programs. Each program
 * includes it once, counts with CHECK / CHECK_STATUS and ends by printing
 * "N passed, M failed" (the line the Makefile's test-c reads) and returning failed != 0.
 * A failed check prints the file, the line, the expression and aecv_last_error().
 */
#ifndef AECV_TEST_CHECK_H
#define AECV_TEST_CHECK_H

#include <aecv.h>
#include <stdio.h>

static int passed, failed;

#define CHECK(cond) do { if (cond) passed++; else { failed++; \
    fprintf(stderr, "%s:%d: FAILED: %s (last_error: \"%s\")\n", __FILE__, __LINE__, #cond, aecv_last_error()); } } while (0)
#define CHECK_STATUS(expr, want) do { aecv_status s_ = (expr); if (s_ == (want)) passed++; else { failed++; \
    fprintf(stderr, "%s:%d: FAILED: %s returned %s, expected %s (last_error: \"%s\")\n", __FILE__, __LINE__, \
            #expr, aecv_status_name(s_), aecv_status_name(want), aecv_last_error()); } } while (0)

#endif
