#!/usr/bin/env bash
# Makes sure MariaDB/MySQL, Redis and RabbitMQ answer before the system or its tests run.
# For each service (host and port taken from MYSQL_URL, REDIS_URL, RABBITMQ_URL or the
# local defaults): use it when it answers; start it when it is installed here but stopped;
# install the Debian package when it is missing and we are root with apt; otherwise stop
# with a message naming each missing service and how to provide it.
set -euo pipefail

MYSQL_URL="${TEST_MYSQL_URL:-${MYSQL_URL:-mysql://root@127.0.0.1:3306/chat_system}}"
REDIS_URL="${TEST_REDIS_URL:-${REDIS_URL:-redis://127.0.0.1:6379}}"
RABBITMQ_URL="${TEST_RABBITMQ_URL:-${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}}"

say() { printf 'services: %s\n' "$*" >&2; }

# host and port of a URL such as scheme://user:pass@host:port/path
host_of() { local rest="${1#*://}"; rest="${rest##*@}"; rest="${rest%%/*}"; echo "${rest%%:*}"; }
port_of() {
  local rest="${1#*://}"; rest="${rest##*@}"; rest="${rest%%/*}"
  if [[ "$rest" == *:* ]]; then echo "${rest##*:}"; else echo "$2"; fi
}
answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
is_local() { [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" ]]; }
wait_for() {
  local host=$1 port=$2 seconds=$3
  for ((i = 0; i < seconds * 4; i++)); do answers "$host" "$port" && return 0; sleep 0.25; done
  return 1
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]] || return 1
  if [[ $apt_updated -eq 0 ]]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

start_mariadb() {
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
}
start_redis() {
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}
start_rabbitmq() { rabbitmq-server -detached; }

# A fresh Debian MariaDB lets root in over the socket only; the default MYSQL_URL logs in
# as root over TCP without a password, as a local development database does.
allow_local_root() {
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')" 2>/dev/null || true
}

missing=()
ensure() {
  local name=$1 url=$2 default_port=$3 binary=$4 package=$5 starter=$6 seconds=$7 container=$8
  local host port
  host=$(host_of "$url"); port=$(port_of "$url" "$default_port")
  if answers "$host" "$port"; then return 0; fi
  if ! is_local "$host"; then
    missing+=("$name at $host:$port does not answer (set by its URL variable)")
    return 0
  fi
  local installed_now=0
  if ! command -v "$binary" >/dev/null 2>&1 && [[ ! -x "$binary" ]]; then
    if apt_install $package; then installed_now=1; else
      missing+=("$name: not installed and cannot install it here (needs root and apt). Install the Debian package '$package', or run it in a container: $container, or point its URL variable at a running server")
      return 0
    fi
  fi
  say "starting $name on $host:$port"
  $starter >/dev/null 2>&1 || true
  if ! wait_for "$host" "$port" "$seconds"; then
    missing+=("$name: started but not answering on $host:$port after ${seconds}s")
    return 0
  fi
  if [[ $installed_now -eq 1 && $name == MariaDB ]]; then allow_local_root; fi
  return 0
}

ensure MariaDB "$MYSQL_URL" 3306 /usr/sbin/mariadbd mariadb-server start_mariadb 60 \
  "docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 mariadb:11"
ensure Redis "$REDIS_URL" 6379 redis-server redis-server start_redis 20 \
  "docker run -d -p 6379:6379 redis:7"
ensure RabbitMQ "$RABBITMQ_URL" 5672 rabbitmq-server rabbitmq-server start_rabbitmq 120 \
  "docker run -d -p 5672:5672 rabbitmq:4"

if [[ ${#missing[@]} -gt 0 ]]; then
  say "these services are not available:"
  for m in "${missing[@]}"; do say "  - $m"; done
  exit 1
fi
