# Creates the Valkey/Redis Cluster once, and repairs what a lost volume leaves; safe to run on
# every install and upgrade. Environment: NODES (every node as host:port, space-separated),
# REPLICAS (replicas per primary), CLI (valkey-cli or redis-cli), REDIS_PASSWORD.
set -eu
cli() { "$CLI" -a "$REDIS_PASSWORD" --no-auth-warning "$@"; }
on() { node=$1; shift; cli -h "${node%:*}" -p "${node##*:}" "$@"; }
info() { on "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }
answers() { on "$1" ping 2>/dev/null | grep -q PONG; }
# `CLUSTER MEET` takes addresses, not names: every node by its current pod IP.
addr() { echo "$(getent hosts "${1%:*}" | awk '{ print $1; exit }'):${1##*:}"; }

# Wait until every node answers, or until one that answers serves slots: the cluster exists
# (an earlier run created it), and an upgrade must not wait for a node that is down.
seed=''
while :; do
  up=0
  total=0
  for node in $NODES; do
    total=$((total + 1))
    if answers "$node"; then
      up=$((up + 1))
      if [ -z "$seed" ] && [ "$(info "$node" cluster_slots_assigned)" -gt 0 ]; then seed=$node; fi
    fi
  done
  if [ -n "$seed" ] || [ "$up" -eq "$total" ]; then break; fi
  echo "waiting for the nodes: $up of $total answer"
  sleep 2
done

if [ -z "$seed" ]; then
  addresses=''
  for node in $NODES; do addresses="$addresses $(addr "$node")"; done
  echo "creating the cluster:$addresses"
  # shellcheck disable=SC2086 # one argument per address
  cli --cluster create $addresses --cluster-replicas "$REPLICAS" --cluster-yes
  seed=${NODES%% *}
  # Done when every slot is served and every node agrees on it.
  tries=0
  until cli --cluster check "$(addr "$seed")"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      echo "the new cluster is not consistent: see \`$CLI --cluster check\`" >&2
      exit 1
    fi
    sleep 2
  done
  exit 0
fi

# A node that answers but knows no other node lost its volume (or is new): it joins as a
# replica of the primary with the fewest replicas.
for node in $NODES; do
  if ! answers "$node"; then
    echo "$node does not answer: left as it is"
  elif [ "$(info "$node" cluster_known_nodes)" = 1 ]; then
    echo "$node is empty and alone: adding it as a replica"
    cli --cluster add-node "$(addr "$node")" "$(addr "$seed")" --cluster-slave
  fi
done
# The identities those volumes held are left without an address: forget them everywhere.
for id in $(on "$seed" cluster nodes | tr -d '\r' | awk '$3 ~ /noaddr/ { print $1 }'); do
  echo "forgetting $id (no address: its volume is gone)"
  for node in $NODES; do on "$node" cluster forget "$id" >/dev/null 2>&1 || true; done
done

# Done when every slot is served; the full check is printed for the record (a node that is
# down makes it complain, which is the operator's to see, not a reason to fail an upgrade).
tries=0
until [ "$(info "$seed" cluster_state)" = ok ]; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "not every slot is served: see \`$CLI --cluster check\` and \`--cluster fix\`" >&2
    exit 1
  fi
  sleep 2
done
cli --cluster check "$(addr "$seed")" || true
