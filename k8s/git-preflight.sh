#!/usr/bin/env bash
# Before the Airflow install: can git-sync clone the DAGs? git-sync clones REPO at BRANCH from
# inside the cluster, anonymously unless an SSH key Secret is given; when it cannot, the scheduler
# waits for DAGs that never come. This asks the same remote the same question, now, and says
# what to do. Also warns when the branch on the remote is not this checkout's HEAD (the cluster
# runs what is pushed, not what is here).
#
#   k8s/git-preflight.sh <repo URL as git-sync gets it> <branch> [<ssh key secret>]
set -uo pipefail
repo=$1 branch=$2 ssh_secret=${3:-}
export GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND="${GIT_SSH_COMMAND:-ssh -o BatchMode=yes -o ConnectTimeout=15}"

if [ -n "$ssh_secret" ]; then
  echo "    $repo is cloned with the deploy key of Secret airflow/$ssh_secret; checking with your own SSH access"
fi
out=$(timeout 60 git ls-remote --exit-code --heads "$repo" "refs/heads/$branch" 2>&1); status=$?
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
    echo "git-sync will not reach $repo: no answer within 60 s (network or proxy?). Check: git ls-remote $repo" >&2;;
  *)
    if grep -qiE 'authentication|could not read username|permission denied|repository not found|terminal prompts disabled|publickey' <<<"$out"; then
      if [ -n "$ssh_secret" ]; then
        echo "warning: your SSH access cannot read $repo; the cluster uses the deploy key in Secret airflow/$ssh_secret, so this may still work" >&2
        exit 0
      fi
      echo "git-sync cannot clone $repo anonymously (a private repository, or a wrong URL): make it public, or give git-sync a deploy key: create Secret airflow/airflow-git-ssh with key gitSshKey, then make cluster-up GIT_REPO=git@github.com:<you>/<repo>.git GIT_SSH_SECRET=airflow-git-ssh (README: The DAG repository)" >&2
    else
      echo "git-sync will not reach $repo: git ls-remote failed: $out" >&2
    fi;;
esac
exit 1
