/* Subcommands that ARCHITECTURE.md reserves and later work fills in. Each has
 * its help text already, so that scripts can discover the interface. Remove
 * an entry here when its real implementation (cmd_<name>.c) lands. */
#include <stdio.h>

#include "cli_common.h"

static int reserved(int argc, char **argv, const char *usage) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  return cli_fail("%s: not implemented yet in this build", argv[0]);
}

int cmd_finetune(int argc, char **argv) {
  return reserved(argc, argv,
                  "usage: semmae finetune --data VOLUME --labels LABELS --task neurons|mito|membrane\n"
                  "         --out S.safetensors [--init M.safetensors | --scratch] [--steps N]\n"
                  "         [--val-data V --val-labels W]\n");
}

int cmd_segment(int argc, char **argv) {
  return reserved(argc, argv,
                  "usage: semmae segment --model S --data VOLUME --out LABELS.tif [--probs P.tif]\n");
}
