/* semmae finetune: --stop-at + --resume give the model of an uninterrupted
 * run bit for bit; Ctrl+C (SIGINT) saves a resume file and exits 130, and the
 * run continues from it; --cpu-budget (finetune and pretrain) stops by itself
 * with the cosine schedule at its end; a wrong resume file is a one-line
 * error. usage: finetune_resume_cli SEMMAE */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "tap.h"

static int count_lines(const char *name) {
  char *s = slurp(in_dir(name), NULL);
  int n = 0;
  for (char *p = s; p && *p; p++)
    n += *p == '\n';
  free(s);
  return n;
}

/* Field `col` (0-based) of the last line of a CSV file, or -1. */
static double last_field(const char *name, int col) {
  char *s = slurp(in_dir(name), NULL);
  if (!s || !*s)
    return free(s), -1;
  char *end = s + strlen(s) - 1;
  while (end > s && end[-1] != '\n')
    end--;
  double v = -1;
  char *p = end;
  for (int c = 0; c < col && p; c++)
    p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
  if (p)
    v = atof(p);
  free(s);
  return v;
}

/* First integer field of the last line (the step). */
static long last_step(const char *name) { return (long)last_field(name, 0); }

static int same_file(const char *a, const char *b) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cmp -s '%s/%s' '%s/%s'", dir, a, dir, b);
  return system(cmd) == 0;
}

int main(int argc, char **argv) {
  int begun = cli_begin(argc, argv, "ftres");
  if (begun >= 0)
    return begun;
  const char *ft = "finetune --data img.tif --labels lab.tif --task neurons --scratch --batch 1 "
                   "--threads 1";
  char cmd[1024];

  TAP_OK(run("phantom img.tif --labels lab.tif --shape 7,100,104 --seed 3") == 0, "phantom");

  snprintf(cmd, sizeof cmd, "%s --steps 4 --out a.safetensors", ft);
  TAP_OK(run(cmd) == 0, "4 steps in one go");
  snprintf(cmd, sizeof cmd, "%s --steps 4 --out b.safetensors --stop-at 2", ft);
  TAP_OK(run(cmd) == 0 &&
             stderr_has("stopped at step 2; continue with --resume b.safetensors.resume"),
         "--stop-at 2 saves a resume file");
  snprintf(cmd, sizeof cmd, "%s --steps 4 --out b.safetensors --resume b.safetensors.resume", ft);
  TAP_OK(run(cmd) == 0 && stderr_has("resuming b.safetensors.resume at step 2"), "resume to 4");
  TAP_OK(same_file("a.safetensors", "b.safetensors"),
         "2 steps + resume to 4 = 4 steps in one go, bit for bit");

  /* Ctrl+C: a long run interrupted once it has logged two steps */
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir) || !freopen("stderr.txt", "w", stderr) || !freopen("/dev/null", "w", stdout))
      _exit(126);
    execl(semmae, semmae, "finetune", "--data", "img.tif", "--labels", "lab.tif", "--task",
          "neurons", "--scratch", "--batch", "1", "--threads", "1", "--steps", "100000", "--out",
          "c.safetensors", "--log", "c.csv", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 1200 && count_lines("c.csv") < 2; i++)
    usleep(100000);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  struct stat sb;
  char resume_path[128];
  snprintf(resume_path, sizeof resume_path, "%s/c.safetensors.resume", dir);
  TAP_OK(WIFEXITED(status) && WEXITSTATUS(status) == 130 && stat(resume_path, &sb) == 0 &&
             stderr_has("interrupted at step"),
         "Ctrl+C: exit 130, resume file saved");
  long at = last_step("c.csv");
  snprintf(cmd, sizeof cmd,
           "%s --steps 100000 --out c.safetensors --log c.csv --resume c.safetensors.resume "
           "--stop-at %ld",
           ft, at + 1);
  TAP_OK(run(cmd) == 0 && last_step("c.csv") == at + 1,
         "the interrupted run continues at the next step (%ld)", at + 1);

  /* --cpu-budget: stops by itself; the last step's lr is near the cosine's end */
  snprintf(cmd, sizeof cmd, "%s --steps 100000 --cpu-budget 4 --out d.safetensors --log d.csv", ft);
  TAP_OK(run(cmd) == 0 && stderr_has("cpu budget 4.0 s: used"), "finetune --cpu-budget stops");
  double lr = last_field("d.csv", 2);
  TAP_OK(lr >= 0 && lr < 1e-4, "finetune: the schedule ended with the budget (last lr %g)", lr);
  TAP_OK(run("pretrain --data img.tif --out m.safetensors --batch 1 --threads 1 --cpu-budget 3 "
             "--log m.csv") == 0 &&
             stderr_has("cpu budget 3.0 s: used"),
         "pretrain --cpu-budget stops");
  lr = last_field("m.csv", 2);
  TAP_OK(lr >= 0 && lr < 1e-5, "pretrain: the schedule ended with the budget (last lr %g)", lr);

  /* bad input */
  snprintf(cmd, sizeof cmd, "%s --steps 4 --out e.safetensors --resume a.safetensors", ft);
  TAP_OK(run(cmd) == 1 && stderr_has("not a fine-tuning resume file") &&
             count_lines("stderr.txt") == 1,
         "a model instead of a resume file: one-line error");
  TAP_OK(run("pretrain --data img.tif --out x.safetensors --cpu-budget 0") == 2 &&
             stderr_has("--cpu-budget must be positive"),
         "pretrain --cpu-budget 0: usage error");

  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd))
    tap_diag("could not remove %s", dir);
  return tap_done();
}
