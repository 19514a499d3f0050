#!/usr/bin/env bash
# Before the Airflow install: can git-sync clone the DAGs? git-sync clones REPO at BRANCH from
# inside the cluster, anonymously unless an SSH key Secret is given; when it cannot, the scheduler
# waits for DAGs that never come. This asks the same remote the same question, now, the way
# git-sync will, and says what to do. Also warns when the branch on the remote is not this
# checkout's HEAD (the cluster runs what is pushed, not what is here).
#
# Without an SSH key Secret git-sync has no credentials at all, so neither has this check: no
# credential helper (osxkeychain, GCM, gh), no SSH agent, no askpass, and none of your git
# configuration (an `insteadOf` could turn the URL into one that your SSH key opens). With a
# Secret, the key is the deploy key in the cluster; your own SSH access stands in for it.
#
#   k8s/git-preflight.sh <repo URL as git-sync gets it> <branch> [<ssh key secret>]
# Stock macOS tools only (bash 3.2, BSD userland: no GNU `timeout`).
set -uo pipefail
repo=$1 branch=$2 ssh_secret=${3:-}
seconds=${GIT_PREFLIGHT_TIMEOUT:-60}
export GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND="${GIT_SSH_COMMAND:-ssh -o BatchMode=yes -o ConnectTimeout=15}"

# Runs a command for at most $1 seconds; 124 when it had to be stopped (as GNU timeout says).
run_for_at_most() {
  local limit=$1 pid watchdog status
  shift
  # Its own process group (job control on for this one job): the watchdog stops git together with
  # its helpers (git-remote-https, ssh), which would otherwise hold our output open.
  set -m
  "$@" &
  pid=$!
  set +m
  # Exits 3 when it stopped the command (deaf to our TERM from then on); its own sleep dies with it.
  (
    sleep "$limit" &
    nap=$!
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    wait "$nap" || exit 0
    trap '' TERM
    kill -TERM -- "-$pid" 2>/dev/null
    exit 3
  ) >/dev/null 2>&1 &
  watchdog=$!
  wait "$pid"
  status=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog"
  [ $? -eq 3 ] && status=124
  return "$status"
}

# git ls-remote as git-sync runs it: from outside this checkout (its .git/config is not read).
# shellcheck disable=SC2329  # called through run_for_at_most
ls_remote() {
  if [ -n "$ssh_secret" ]; then
    (cd / && git ls-remote --exit-code --heads "$repo" "refs/heads/$branch")
  else
    (cd / && env -u SSH_AUTH_SOCK -u GIT_ASKPASS -u SSH_ASKPASS GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
      git -c credential.helper= -c core.askPass= ls-remote --exit-code --heads "$repo" "refs/heads/$branch")
  fi
}

if [ -n "$ssh_secret" ]; then
  echo "    $repo is cloned with the deploy key of Secret airflow/$ssh_secret; checking with your own SSH access"
else
  echo "    checking as git-sync will: anonymously (no credential helper, SSH agent or git configuration of yours)"
fi
out=$(run_for_at_most "$seconds" ls_remote 2>&1)
status=$?
case $status in
  0)
    remote_sha=${out%%[[:space:]]*}
    local_sha=$(git rev-parse HEAD 2>/dev/null || true)
    echo "    $repo has branch $branch at ${remote_sha:0:12}"
    if [ -n "$local_sha" ] && [ "$local_sha" != "$remote_sha" ]; then
      echo "    note: this checkout's HEAD is ${local_sha:0:12}: the cluster runs the DAGs that are pushed (git push)"
    fi
    exit 0;;
  2)
    echo "git-sync cannot find branch '$branch' on $repo: push it first (git push -u origin $branch), or choose a pushed one: make cluster-up GIT_BRANCH=<branch>" >&2;;
  124)
    echo "git-sync will not reach $repo: no answer within $seconds s (network or proxy?). Check: git ls-remote $repo" >&2;;
  *)
    if grep -qiE 'authentication|could not read username|permission denied|repository not found|terminal prompts disabled|publickey|401|403' <<<"$out"; then
      if [ -n "$ssh_secret" ]; then
        echo "warning: your SSH access cannot read $repo; the cluster uses the deploy key in Secret airflow/$ssh_secret, so this may still work" >&2
        exit 0
      fi
      echo "git-sync cannot clone $repo anonymously (a private repository, or a wrong URL; your own credentials were not used, as git-sync has none): make it public, or give git-sync a deploy key: create Secret airflow/airflow-git-ssh with key gitSshKey, then make cluster-up GIT_REPO=git@github.com:<you>/<repo>.git GIT_SSH_SECRET=airflow-git-ssh (k8s/README.md: The DAG repository)" >&2
    else
      echo "git-sync will not reach $repo: git ls-remote failed: $out" >&2
    fi;;
esac
exit 1
