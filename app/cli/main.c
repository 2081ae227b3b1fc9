/* semmae: the command-line front end. One subcommand per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli_common.h"

static const CliCommand commands[] = {
  {"info", "shape, dtype, voxel size and value range of a volume", cmd_info},
  {"phantom", "write a synthetic serial-SEM volume with exact labels", cmd_phantom},
  {"pretrain", "pre-train a 3D ViT masked autoencoder on a volume", cmd_pretrain},
  {"reconstruct", "reconstruct a volume through a pre-trained MAE", cmd_reconstruct},
  {"finetune", "fine-tune a segmentation network on labelled data", cmd_finetune},
  {"segment", "segment a whole volume with a fine-tuned model", cmd_segment},
  {"eval", "score a segmentation against ground truth", cmd_eval},
  {"bench", "median seconds per training step for a config", cmd_bench},
  {"labels", "merge, relabel, filter and describe label volumes", cmd_labels},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void print_usage(FILE *out) {
  fprintf(out,
          "usage: semmae <command> [options]   (semmae <command> --help for details)\n\n"
          "Masked-autoencoder pre-training, segmentation and proofreading of serial EM stacks.\n\n"
          "commands:\n");
  for (int i = 0; i < N_COMMANDS; i++)
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(out,
          "\nA VOLUME is a multi-page TIFF, a folder of TIFF/PNG slices (natural order), or a glob.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
    if (argc > 2 && strcmp(name, "help") == 0) {
      for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, argv[2]) == 0) {
          char *help_argv[] = {argv[2], "--help", NULL};
          return commands[i].run(2, help_argv);
        }
    }
    print_usage(stdout);
    return 0;
  }
  if (strcmp(name, "--version") == 0) {
    printf("semmae %s\n", SEMMAE_VERSION);
    return 0;
  }
  for (int i = 0; i < N_COMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "semmae: unknown command '%s' (see 'semmae --help')\n", name);
  return 2;
}
