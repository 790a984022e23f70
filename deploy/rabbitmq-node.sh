#!/usr/bin/env bash
# Start or stop a private RabbitMQ node (its own port, data and logs in DIR), so a test can
# really stop and restart a broker without touching the machine's RabbitMQ.
#
#   deploy/rabbitmq-node.sh start DIR PORT [DIST_PORT]
#                                            start a node on 127.0.0.1:PORT (Erlang distribution
#                                            on DIST_PORT, default PORT+20000); wait until it listens
#   deploy/rabbitmq-node.sh stop DIR         stop the node started in DIR (data stays in DIR)
#
# Needs Debian's rabbitmq-server (deploy/services.sh installs it). The node keeps its data in
# DIR, so a stop and a start keep durable queues and their messages, as a real restart does.
# Exit status: 0 done, 1 the node did not start (the last lines of its log say why), 2 usage.

set -o pipefail
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

port_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

start() { # dir port [dist-port]
    local dir=$1 port=$2 dist=$3
    [[ -n $dist ]] || dist=$((port + 20000))
    command -v rabbitmq-server >/dev/null || { echo "rabbitmq-node: rabbitmq-server is not installed (deploy/services.sh ensure rabbitmq)" >&2; exit 1; }
    mkdir -p "$dir"
    [[ -f $dir/enabled_plugins ]] || echo "[]." >"$dir/enabled_plugins"
    printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$port" >"$dir/rabbitmq.conf"
    # Debian's wrapper runs the broker as the rabbitmq user when started by root.
    if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then chown -R rabbitmq:rabbitmq "$dir"; fi
    HOME="$dir" RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_NODENAME="herald$port@localhost" RABBITMQ_NODE_PORT="$port" \
        RABBITMQ_DIST_PORT="$dist" RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_FEATURE_FLAGS_FILE="$dir/feature_flags" \
        RABBITMQ_PLUGINS_EXPAND_DIR="$dir/plugins-expand" RABBITMQ_PID_FILE="$dir/pid" \
        setsid rabbitmq-server >"$dir/server.out" 2>&1 </dev/null &
    local deadline=$((SECONDS + ${HERALD_SERVICES_WAIT:-90}))
    while ((SECONDS < deadline)); do
        port_open "$port" && return 0
        sleep 0.5
    done
    echo "rabbitmq-node: the node did not open 127.0.0.1:$port; its log says:" >&2
    tail -n 5 "$dir/server.out" >&2
    exit 1
}

stop() { # dir
    local pidfile=$1/pid
    [[ -f $pidfile ]] || return 0
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
        sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

case "${1:-}" in
start) [[ $# == 3 || $# == 4 ]] || usage; start "$2" "$3" "${4:-}" ;;
stop) [[ $# == 2 ]] || usage; stop "$2" ;;
*) usage ;;
esac
