/* Shared pieces of the `semmae` subcommands. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* One entry per subcommand; main.c holds the table. run() gets argv with
 * argv[0] = the subcommand name and returns the process exit status. */
typedef struct CliCommand {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv);
} CliCommand;

/* Prints "semmae: <message>" on stderr and returns 1 (the error exit status). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Usage error: the one-line reason plus a pointer to --help; returns 2. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

/* Parses "Z,Y,X" into three positive integers. */
bool cli_parse_shape(const char *text, int64_t shape[3]);
bool cli_parse_i64(const char *text, int64_t *out);
bool cli_parse_u64(const char *text, uint64_t *out);
bool cli_parse_double(const char *text, double *out);

/* The subcommands (one file each). */
int cmd_info(int argc, char **argv);
int cmd_phantom(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_segment(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_labels(int argc, char **argv);
