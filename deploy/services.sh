#!/usr/bin/env bash
# Check or start the services Herald's integration tests need on a developer box:
# PostgreSQL on 127.0.0.1:5432 (user postgres, no password) and RabbitMQ on 127.0.0.1:5672.
#
#   deploy/services.sh check  [postgres] [rabbitmq]   report, start nothing
#   deploy/services.sh ensure [postgres] [rabbitmq]   start (or install) what is not running
#
# With no service named, both. Exit status: 0 all up, 1 a service is not available (the
# message says what is needed), 2 bad usage. See deploy/README.md.
#
# Environment:
#   HERALD_TEST_POSTGRES_URL  use this PostgreSQL server (postgresql://user:pw@host:port/db):
#                             it is only checked, never started
#   HERALD_TEST_BROKER        use this RabbitMQ (amqp://user:pw@host:port/vhost): only checked
#   HERALD_SERVICES_WAIT      seconds to wait for a server to open its port (default 60)
#   HERALD_SERVICES_POSTGRES_PORT, HERALD_SERVICES_RABBITMQ_PORT
#                             local ports to check and start (default 5432, 5672)

# No `set -u`: macOS bash 3.2 treats an empty array "${a[@]}" as unset.
set -o pipefail

NAME=services USAGE_LINES=9
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
HOST=127.0.0.1
PG_PORT="${HERALD_SERVICES_POSTGRES_PORT:-5432}"
MQ_PORT="${HERALD_SERVICES_RABBITMQ_PORT:-5672}"
WAIT_SECONDS="${HERALD_SERVICES_WAIT:-60}"

# --- small helpers -----------------------------------------------------------------------

# shellcheck disable=SC2016 # $0 and $1 expand in the inner bash
port_open() { # host port
    if command -v timeout >/dev/null; then
        timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
    else # a refused local port answers at once anyway
        bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
    fi
}

wait_for_port() { # host port seconds
    local deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        port_open "$1" "$2" && return 0
        sleep 0.5
    done
    port_open "$1" "$2"
}

systemd_running() { [[ -d /run/systemd/system ]] && [[ $(ps -p 1 -o comm= 2>/dev/null) == systemd ]]; }

# host and port of a URL: scheme://[user[:password]@]host[:port][/...]
url_host_port() { # url default-port
    local rest=${1#*://}
    rest=${rest%%/*}
    rest=${rest%%\?*}
    rest=${rest##*@}
    local host port
    if [[ $rest =~ ^\[([^]]+)\](:([0-9]+))?$ ]]; then
        host=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]}
    elif [[ $rest =~ ^([^:]*)(:([0-9]+))?$ ]]; then
        host=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]}
    else
        return 1
    fi
    printf '%s %s\n' "${host:-localhost}" "${port:-$2}"
}

# --- PostgreSQL --------------------------------------------------------------------------

PG_CREATED=0

pg_need() {
    fail "PostgreSQL is needed on $HOST:$PG_PORT (user postgres, trust auth): install it with" \
        "\`sudo apt-get install postgresql\` (or your system's package), start it, or point" \
        "HERALD_TEST_POSTGRES_URL at one (postgresql://postgres:PASSWORD@host:5432/postgres)."
}

pg_clusters_on_port() { # "version name" lines of local Debian clusters on PG_PORT
    command -v pg_lsclusters >/dev/null || return 0
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2 }'
}

pg_installed() {
    command -v pg_ctlcluster >/dev/null || command -v pg_ctl >/dev/null ||
        compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

pg_start() {
    local clusters version name
    clusters=$(pg_clusters_on_port)
    if [[ -z $clusters ]] && command -v pg_lsclusters >/dev/null &&
        [[ -z $(pg_lsclusters -h 2>/dev/null) ]] && command -v pg_createcluster >/dev/null &&
        can_admin; then
        # Installed, but no cluster at all (e.g. it was dropped): make the default one.
        version=$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1 |
            awk -F/ '{ print $5 }')
        if [[ -n $version ]] && attempt "${SUDO[@]}" pg_createcluster "$version" main -p "$PG_PORT"; then
            PG_CREATED=1
            clusters="$version main"
        fi
    fi
    if [[ -n $clusters ]]; then
        can_admin || SUDO=()
        local started=0
        while read -r version name; do
            # pg_ctlcluster hands over to systemd where systemd runs; elsewhere it starts
            # the server itself and waits for it.
            local redirect=(--skip-systemctl-redirect)
            systemd_running && redirect=()
            attempt "${SUDO[@]}" pg_ctlcluster "${redirect[@]}" "$version" "$name" start &&
                started=1
        done <<<"$clusters"
        ((started)) && return 0
    elif command -v pg_lsclusters >/dev/null && [[ -n $(pg_lsclusters -h 2>/dev/null) ]]; then
        fail "PostgreSQL clusters exist but none is set to port $PG_PORT:"
        pg_lsclusters >&2
        return 1
    fi
    if can_admin; then
        if systemd_running; then
            attempt "${SUDO[@]}" systemctl start postgresql && return 0
        fi
        if command -v service >/dev/null; then
            attempt "${SUDO[@]}" service postgresql start && return 0
        fi
    fi
    port_open "$HOST" "$PG_PORT" # nothing worked, unless someone else started it meanwhile
}

# Allow user postgres over local TCP without a password, on a cluster this script created.
pg_trust_local_tcp() {
    local hba
    hba=$(cd / && "${SUDO[@]}" runuser -u postgres -- psql -p "$PG_PORT" -XAtqc 'show hba_file' 2>/dev/null) || return 1
    [[ -n $hba ]] || return 1
    say "allowing user postgres from 127.0.0.1 and ::1 without a password ($hba)"
    "${SUDO[@]}" sed -i '0,/^[[:space:]]*host/s//host    all    postgres    127.0.0.1\/32    trust\nhost    all    postgres    ::1\/128    trust\n&/' "$hba" &&
        attempt "${SUDO[@]}" runuser -u postgres -- psql -p "$PG_PORT" -XAtqc 'select pg_reload_conf()'
}

pg_login() { # prints the first line of the error on failure
    local output
    # Debian's psql is a wrapper that fails when no client package is installed.
    if command -v psql >/dev/null && psql --version >/dev/null 2>&1; then
        output=$(PGCONNECT_TIMEOUT=5 psql -w -X -q -At "$@" -c 'select 1' 2>&1) && [[ $output == 1 ]] &&
            return 0
        printf '%s\n' "$output" | sed -n '/./{s/^psql: //;s/^error: //;p;q}'
        return 1
    fi
    return 2
}

pg_verify_local() {
    local problem
    problem=$(pg_login -h "$HOST" -p "$PG_PORT" -U postgres -d postgres)
    case $? in
    0) say "PostgreSQL is up on $HOST:$PG_PORT (user postgres can log in)" ;;
    2) say "PostgreSQL is listening on $HOST:$PG_PORT (psql not installed: login not checked)" ;;
    *)
        if ((PG_CREATED)) && pg_trust_local_tcp &&
            problem=$(pg_login -h "$HOST" -p "$PG_PORT" -U postgres -d postgres); then
            say "PostgreSQL is up on $HOST:$PG_PORT (user postgres can log in)"
            return 0
        fi
        fail "PostgreSQL on $HOST:$PG_PORT is up but user postgres cannot log in without a" \
            "password ($problem). Add \`host all postgres 127.0.0.1/32 trust\` at the top of" \
            "pg_hba.conf (\`sudo -u postgres psql -c 'show hba_file'\`) and reload, or set" \
            "PGPASSWORD, or HERALD_TEST_POSTGRES_URL=postgresql://postgres:PASSWORD@$HOST:$PG_PORT/postgres."
        return 1
        ;;
    esac
}

pg_check_url() {
    local url=$HERALD_TEST_POSTGRES_URL hostport host port problem
    url=$(sed -E 's#^postgres(ql)?(\+[a-z0-9_]+)?://#postgresql://#' <<<"$url")
    problem=$(pg_login "$url")
    case $? in
    0)
        say "PostgreSQL at HERALD_TEST_POSTGRES_URL is up"
        return 0
        ;;
    1)
        fail "PostgreSQL at HERALD_TEST_POSTGRES_URL cannot be used: $problem"
        return 1
        ;;
    esac
    hostport=$(url_host_port "$url" 5432) || {
        fail "HERALD_TEST_POSTGRES_URL is not a postgresql://user@host:port/database URL"
        return 1
    }
    read -r host port <<<"$hostport"
    if port_open "$host" "$port"; then
        say "PostgreSQL at HERALD_TEST_POSTGRES_URL is listening on $host:$port (psql not installed: login not checked)"
        return 0
    fi
    fail "PostgreSQL at HERALD_TEST_POSTGRES_URL ($host:$port) is not reachable"
    return 1
}

check_postgres() {
    if [[ -n ${HERALD_TEST_POSTGRES_URL:-} ]]; then
        pg_check_url
        return
    fi
    if port_open "$HOST" "$PG_PORT"; then
        pg_verify_local
        return
    fi
    fail "PostgreSQL is not running on $HOST:$PG_PORT (\`deploy/services.sh ensure postgres\` starts it)"
    return 1
}

# Start PostgreSQL if needed; the caller waits with await_postgres.
start_postgres() {
    port_open "$HOST" "$PG_PORT" && return 0
    if ! pg_installed; then
        if apt_install --with-recommends postgresql; then
            PG_CREATED=1
        else
            log_tail
            pg_need
            return 1
        fi
    fi
    say "starting PostgreSQL"
    pg_start && return 0
    fail "PostgreSQL is installed but could not be started on $HOST:$PG_PORT."
    log_tail
    can_admin ||
        fail "Starting it needs root: \`sudo service postgresql start\`" \
            "(or \`sudo pg_ctlcluster <version> main start\`)."
    return 1
}

await_postgres() {
    # The start commands wait for the server themselves: a short wait is enough.
    local seconds=$((WAIT_SECONDS < 15 ? WAIT_SECONDS : 15))
    if ! wait_for_port "$HOST" "$PG_PORT" "$seconds"; then
        fail "PostgreSQL did not start listening on $HOST:$PG_PORT within ${seconds}s" \
            "(logs: /var/log/postgresql/)."
        log_tail
        return 1
    fi
    pg_verify_local
}

# --- RabbitMQ ----------------------------------------------------------------------------

mq_need() {
    fail "RabbitMQ is needed on $HOST:$MQ_PORT (user guest/guest): install it with" \
        "\`sudo apt-get install rabbitmq-server\` (or your system's package), start it, or point" \
        "HERALD_TEST_BROKER at one (amqp://user:password@host:5672/)."
}

mq_check_url() {
    local hostport host port default=5672
    [[ $HERALD_TEST_BROKER == amqps://* ]] && default=5671
    hostport=$(url_host_port "$HERALD_TEST_BROKER" "$default") || {
        fail "HERALD_TEST_BROKER is not an amqp://user:password@host:5672/vhost URL"
        return 1
    }
    read -r host port <<<"$hostport"
    if port_open "$host" "$port"; then
        say "RabbitMQ at HERALD_TEST_BROKER is listening on $host:$port"
        return 0
    fi
    fail "RabbitMQ at HERALD_TEST_BROKER ($host:$port) is not reachable"
    return 1
}

check_rabbitmq() {
    if [[ -n ${HERALD_TEST_BROKER:-} ]]; then
        mq_check_url
        return
    fi
    if port_open "$HOST" "$MQ_PORT"; then
        say "RabbitMQ is up on $HOST:$MQ_PORT"
        return 0
    fi
    fail "RabbitMQ is not running on $HOST:$MQ_PORT (\`deploy/services.sh ensure rabbitmq\` starts it)"
    return 1
}

start_rabbitmq() {
    port_open "$HOST" "$MQ_PORT" && return 0
    if ! command -v rabbitmq-server >/dev/null; then
        if ! apt_install --with-recommends rabbitmq-server; then
            log_tail
            mq_need
            return 1
        fi
    fi
    say "starting RabbitMQ (it takes a few seconds to boot)"
    local admin=0
    can_admin && admin=1 || SUDO=()
    if ((admin)) && systemd_running; then
        attempt "${SUDO[@]}" systemctl start rabbitmq-server && return 0
    fi
    # Returns at once; the node boots in the background (as user rabbitmq when run as root).
    attempt "${SUDO[@]}" rabbitmq-server -detached && return 0
    if ((admin)) && command -v service >/dev/null; then
        attempt "${SUDO[@]}" service rabbitmq-server start && return 0
    fi
    fail "RabbitMQ is installed but could not be started."
    log_tail
    ((admin)) ||
        fail "Starting it needs root: \`sudo rabbitmq-server -detached\`" \
            "(or \`sudo service rabbitmq-server start\`)."
    return 1
}

await_rabbitmq() {
    if ! wait_for_port "$HOST" "$MQ_PORT" "$WAIT_SECONDS"; then
        fail "RabbitMQ did not start listening on $HOST:$MQ_PORT within ${WAIT_SECONDS}s" \
            "(logs: /var/log/rabbitmq/)."
        log_tail
        return 1
    fi
    say "RabbitMQ is up on $HOST:$MQ_PORT"
}

# --- main --------------------------------------------------------------------------------

main() {
    (($# >= 1)) || usage
    local action=$1 service
    shift
    case $action in
    check | ensure) ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
    local services=("$@")
    ((${#services[@]})) || services=(postgres rabbitmq)
    for service in "${services[@]}"; do
        case $service in
        postgres | rabbitmq) ;;
        *)
            fail "unknown service '$service' (postgres, rabbitmq)"
            exit 2
            ;;
        esac
    done

    local status=0
    if [[ $action == check ]]; then
        for service in "${services[@]}"; do
            "check_$service" || status=1
        done
        exit "$status"
    fi

    # ensure: fast path when everything answers already.
    local missing=()
    for service in "${services[@]}"; do
        case $service in
        postgres) [[ -z ${HERALD_TEST_POSTGRES_URL:-} ]] && ! port_open "$HOST" "$PG_PORT" && missing+=(postgres) ;;
        rabbitmq) [[ -z ${HERALD_TEST_BROKER:-} ]] && ! port_open "$HOST" "$MQ_PORT" && missing+=(rabbitmq) ;;
        esac
    done
    if ((${#missing[@]})); then
        take_lock $((WAIT_SECONDS * 2))
        # Start the slow one (RabbitMQ) first, then wait for both together.
        local started=()
        for service in rabbitmq postgres; do
            [[ " ${missing[*]} " == *" $service "* ]] || continue
            if "start_$service"; then
                started+=("$service")
            else
                status=1
            fi
        done
        for service in "${services[@]}"; do
            [[ " ${missing[*]} " == *" $service "* ]] || continue
            [[ " ${started[*]:-} " == *" $service "* ]] || continue
            "await_$service" || status=1
        done
    fi
    for service in "${services[@]}"; do
        [[ " ${missing[*]:-} " == *" $service "* ]] && continue
        "check_$service" || status=1
    done
    exit "$status"
}

# Sourced (for testing a function) it only defines them.
[[ ${BASH_SOURCE[0]} == "$0" ]] && main "$@"
