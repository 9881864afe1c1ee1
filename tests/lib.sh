# tests/lib.sh - shared helpers for the end-to-end tests (tests/e2e/tNNNN-*.sh).
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/../lib.sh"
#   test_init
#   registry_start
#   seed_image library/hello:1
#   expect_success "version prints" hoist version
#   expect_output  "tag listed" "1" hoist ls "$REGISTRY/library/hello"
#   grep -q something "$OUT" && test_ok "..." || test_not_ok "..."
#   test_done
#
# test_init
#   Makes a scratch directory ($TEST_DIR, under ${TMPDIR:-/tmp}) and cds into
#   it; HOME=$TEST_DIR/home, XDG_CONFIG_HOME=$HOME/.config,
#   XDG_CACHE_HOME=$HOME/.cache, XDG_RUNTIME_DIR=$TEST_DIR/run,
#   DOCKER_CONFIG=$HOME/.docker, REGISTRY_AUTH_FILE=$XDG_RUNTIME_DIR/containers/auth.json,
#   TMPDIR=$TEST_DIR/tmp, LC_ALL=C, TZ=UTC; unsets proxies, HOIST_* (except
#   the test knobs) and TLS/CA overrides.  Sets HOIST (the binary under test:
#   $HOIST_BIN, else $TOP/hoist), TOP (repository root), TOOLS (helper programs,
#   $HOIST_TEST_TOOLS, else $TOP/build/tests/tools), TEST_NAME.  Defines a
#   function `hoist` that runs "$HOIST" (under valgrind when HOIST_VALGRIND=1,
#   which makes valgrind errors exit 99).  On EXIT: stops every registry and
#   every at_exit command, removes $TEST_DIR unless HOIST_TEST_KEEP=1.
#
# Checks: each prints exactly one "ok - NAME: DESC" or "not ok - NAME: DESC"
# line on stdout and returns 0 or 1 (so do not `set -e`).  The command's
# stdout and stderr go to files, $OUT and $ERR (kept per command under
# $TEST_DIR/.lib/), never to the test's stdout; stdin is the caller's, so
# `echo pw | expect_success ... hoist login --password-stdin` works.  On
# failure the command line, its exit status and the last lines of its stdout
# and stderr go to stderr.
#   expect_success DESC CMD...          exit status 0
#   expect_failure DESC CMD...          any non-zero exit status
# Every check also fails when the command crashed: killed by a signal (status
# 125..254) or a sanitizer/valgrind report on its stderr, even if the status
# was the expected one (expect_code N with N >= 125 accepts that status).
#   expect_code N DESC CMD...           exit status exactly N
#   expect_output DESC EXPECTED CMD...  exit status 0 and stdout == EXPECTED
#                                       (trailing newlines ignored, as in $(...))
#   compare DESC FILE1 FILE2            identical files (diff -u on failure)
#   test_ok DESC / test_not_ok DESC [MSG...]   record a result of your own check
#   test_skip DESC WHY                  a check that cannot run here: prints
#                                       "ok - NAME: DESC # SKIP WHY" (counted as
#                                       skipped by tests/run), or "not ok" when
#                                       HOIST_TEST_REQUIRE=1 (CI: nothing skips)
# test_done: exits 0 if every check passed, 1 otherwise.
# at_exit "COMMAND": run COMMAND (eval'd) at exit, before registries stop.
#
# Registries (scripts/registry, shared with scripts/demo and scripts/bench):
#   registry_start [--tls] [--htpasswd USER:PASS]
#                  [--token REALM_URL ISSUER SERVICE ROOTCERT] [--name N]
#     sets REGISTRY (127.0.0.1:PORT), REGISTRY_URL, REGISTRY_CA, REGISTRY_CERTS,
#     REGISTRY_USER, REGISTRY_PASS, REGISTRY_LOG, REGISTRY_DIR, REGISTRY_PID;
#     with --name N also REGISTRY_N, REGISTRY_URL_N, REGISTRY_CA_N, ... (the
#     unsuffixed ones always describe the registry started last).
#   registry_stop [NAME]       (no NAME: the one started without --name)
#   seed_image [--name N] [--content TEXT] REF   (sets SEED_DIGEST, SEED_LAYOUT)
# See scripts/registry for the details.
#
# Fixtures (tests/fixtures/, Python 3 run with /usr/bin/python3; each on a
# free loopback port, logging every request, stopped at exit and by itself
# after --max-seconds, 300 by default):
#   token_server_start [--user U:P]... [--reader U:P]... [--anonymous-pull]
#                      [--key-type ec|rsa] [other tests/fixtures/token-server options]
#     a Bearer token issuer; sets TOKEN_SERVER (host:port), TOKEN_REALM (its
#     /token URL), TOKEN_ISSUER, TOKEN_SERVICE, TOKEN_CERT (the registry's
#     rootcertbundle), TOKEN_KEY, TOKEN_LOG, TOKEN_DIR, TOKEN_PID, and
#     TOKEN_USER/TOKEN_PASS (the first --user).  Then:
#   registry_start_token [registry_start options]
#     = registry_start --token "$TOKEN_REALM" "$TOKEN_ISSUER" "$TOKEN_SERVICE"
#       "$TOKEN_CERT" ..., and records TOKEN_USER/TOKEN_PASS as the registry's
#       REGISTRY_USER/REGISTRY_PASS, so seed_image pushes with them.
#   token_server_stop
#   fault_server_start [--name N] [--addr 127.0.0.x] [fault-server options]
#                      (--upstream HOST:PORT | --blob-dir DIR)
#     a misbehaving reverse proxy (tests/fixtures/fault-server: --status-once,
#     --redirect-blobs-to, --drop-mid-blob, --corrupt-blob, ...); sets FAULT
#     (host:port), FAULT_URL, FAULT_LOG, FAULT_DIR, FAULT_PID, and with
#     --name N also FAULT_N, FAULT_URL_N, FAULT_LOG_N, FAULT_DIR_N, FAULT_PID_N.
#   fault_server_stop [NAME]
#   ALT_LOOPBACK (127.0.0.2): a second loopback host for redirect targets;
#   alt_loopback_ok says whether it can be bound here.
#
# File-system faults (tests/tools/faultfs.c, an LD_PRELOAD shim):
#   faultfs [--after N] [--times N] OP PATH ERRNO CMD...
#     runs CMD (a program or a shell function such as `hoist`) with the calls
#     OP (open, read, write, readdir, fsync, rename, unlink; comma-separated)
#     on paths containing PATH ("" = any) failing with ERRNO (EIO, ENOSPC,
#     EACCES, ... or a number), after letting N matching calls through and at
#     most --times N times; each injected failure is logged to
#     $TEST_DIR/.lib/faultfs.log, emptied first, so a test can check it fired.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/scripts/registry"

TEST_NAME=$(basename "$0" .sh)
_t_passed=0
_t_failed=0
_t_seq=0
_t_at_exit=()

test_init() {
	umask 022
	local base=${TMPDIR:-/tmp}
	TEST_DIR=$(mktemp -d "$base/hoist-$TEST_NAME.XXXXXX") || {
		echo "test_init: cannot make a scratch directory under $base" >&2
		exit 1
	}
	cd "$TEST_DIR" || exit 1
	mkdir -p home/.config home/.cache home/.docker run tmp .lib
	chmod 700 run
	# Proxies and anything else from the caller's environment that could change
	# what hoist, curl or skopeo do.
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY \
		no_proxy NO_PROXY ftp_proxy FTP_PROXY \
		CURL_CA_BUNDLE CURL_HOME SSL_CERT_FILE SSL_CERT_DIR \
		CONTAINERS_REGISTRIES_CONF CONTAINERS_AUTH_FILE KOCACHE \
		LANG LANGUAGE
	local v
	for v in $(compgen -e); do
		case $v in
		HOIST_BIN | HOIST_TEST_KEEP | HOIST_TEST_TOOLS | HOIST_TEST_REQUIRE | HOIST_VALGRIND) ;;
		HOIST_*) unset "$v" ;;
		REGISTRY_*) unset "$v" ;;
		esac
	done
	export HOME=$TEST_DIR/home
	export XDG_CONFIG_HOME=$HOME/.config
	export XDG_CACHE_HOME=$HOME/.cache
	export XDG_RUNTIME_DIR=$TEST_DIR/run
	export DOCKER_CONFIG=$HOME/.docker
	export REGISTRY_AUTH_FILE=$XDG_RUNTIME_DIR/containers/auth.json
	export TMPDIR=$TEST_DIR/tmp
	export LC_ALL=C TZ=UTC
	HOIST=${HOIST_BIN:-$TOP/hoist}
	TOOLS=${HOIST_TEST_TOOLS:-$TOP/build/tests/tools}
	export HOIST
	REGISTRY_BASEDIR=$TEST_DIR
	OUT=$TEST_DIR/.lib/none.out
	ERR=$TEST_DIR/.lib/none.err
	: >"$OUT"
	: >"$ERR"
	# Only the test's own shell cleans up: a child forked for `cmd &` may get a
	# signal before it has reset the inherited traps.
	_t_main_pid=$BASHPID
	trap _t_cleanup EXIT
	trap '_t_signal INT 130' INT
	trap '_t_signal TERM 143' TERM
	trap '_t_signal HUP 129' HUP
}

hoist() {
	if [[ ${HOIST_VALGRIND-} == 1 ]]; then
		valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			"$HOIST" "$@"
	else
		"$HOIST" "$@"
	fi
}

at_exit() {
	_t_at_exit+=("$1")
}

_t_signal() { # SIG STATUS
	if [[ $BASHPID == "$_t_main_pid" ]]; then
		exit "$2"
	fi
	trap - "$1"
	kill -s "$1" "$BASHPID"
}

_t_cleanup() {
	local rc=$? c
	[[ $BASHPID == "$_t_main_pid" ]] || return "$rc"
	trap - EXIT INT TERM HUP
	for c in "${_t_at_exit[@]}"; do
		eval "$c" >/dev/null 2>&1
	done
	_fx_stop_all >/dev/null 2>&1
	registry_stop_all >/dev/null 2>&1
	cd / || true
	if [[ -n ${TEST_DIR-} && -d $TEST_DIR ]]; then
		if [[ ${HOIST_TEST_KEEP-} == 1 ]]; then
			echo "# kept $TEST_DIR" >&2
		else
			rm -rf "$TEST_DIR"
		fi
	fi
	exit "$rc"
}

test_ok() {
	echo "ok - $TEST_NAME: $1"
	_t_passed=$((_t_passed + 1))
	return 0
}

test_not_ok() {
	local desc=$1
	shift
	echo "not ok - $TEST_NAME: $desc"
	_t_failed=$((_t_failed + 1))
	{
		echo "# FAIL: $TEST_NAME: $desc"
		(($#)) && printf '#   %s\n' "$@"
	} >&2
	return 1
}

test_skip() { # DESC WHY
	if [[ ${HOIST_TEST_REQUIRE-} == 1 ]]; then
		test_not_ok "$1" "skipped, but HOIST_TEST_REQUIRE=1 requires it: $2"
		return 1
	fi
	echo "ok - $TEST_NAME: $1 # SKIP $2"
	return 0
}

# _t_run CMD...: runs CMD with stdout/stderr in fresh files; sets OUT, ERR, _t_rc.
_t_run() {
	_t_seq=$((_t_seq + 1))
	OUT=${TEST_DIR:-.}/.lib/$_t_seq.out
	ERR=${TEST_DIR:-.}/.lib/$_t_seq.err
	"$@" >"$OUT" 2>"$ERR"
	_t_rc=$?
	_t_crash=
	if ((_t_rc >= 125 && _t_rc != 255)); then
		_t_crash="status $_t_rc (killed by a signal?)"
	elif grep -qE '^==[0-9]+== ?[A-Z]|^SUMMARY: [A-Za-z]+Sanitizer|: runtime error: ' "$ERR"; then
		_t_crash="a sanitizer or valgrind report on stderr"
	fi
}

_t_report_cmd() { # DESC WHAT CMD...   (extra text for stderr in $_t_extra)
	local desc=$1 what=$2
	shift 2
	test_not_ok "$desc" "$what" "command: $(printf '%q ' "$@")" "exit status: $_t_rc"
	{
		[[ -n ${_t_extra-} ]] && printf '%s\n' "$_t_extra"
		_t_extra=
		echo "# --- stdout (last 20 lines) ---"
		tail -n 20 "$OUT" | sed 's/^/#   /'
		echo "# --- stderr (last 20 lines) ---"
		tail -n 20 "$ERR" | sed 's/^/#   /'
	} >&2
	return 1
}

expect_success() {
	local desc=$1
	shift
	_t_run "$@"
	if [[ -n $_t_crash ]]; then
		_t_report_cmd "$desc" "crashed: $_t_crash" "$@"
	elif ((_t_rc == 0)); then
		test_ok "$desc"
	else
		_t_report_cmd "$desc" "expected success" "$@"
	fi
}

expect_failure() {
	local desc=$1
	shift
	_t_run "$@"
	if ((_t_rc == 0)); then
		_t_report_cmd "$desc" "expected failure, got success" "$@"
	elif [[ -n $_t_crash ]]; then
		_t_report_cmd "$desc" "expected a clean failure, crashed: $_t_crash" "$@"
	else
		test_ok "$desc"
	fi
}

expect_code() {
	local want=$1 desc=$2
	shift 2
	_t_run "$@"
	if [[ -n $_t_crash ]] && ((_t_rc != want || _t_rc < 125)); then
		_t_report_cmd "$desc" "crashed: $_t_crash" "$@"
	elif ((_t_rc == want)); then
		test_ok "$desc"
	else
		_t_report_cmd "$desc" "expected exit status $want" "$@"
	fi
}

expect_output() {
	local desc=$1 want=$2 got
	shift 2
	_t_run "$@"
	got=$(cat "$OUT")
	if [[ -n $_t_crash ]]; then
		_t_report_cmd "$desc" "crashed: $_t_crash" "$@"
	elif ((_t_rc != 0)); then
		_t_report_cmd "$desc" "expected success" "$@"
	elif [[ $got != "$want" ]]; then
		printf '%s\n' "$want" >"$OUT.expected"
		printf '%s\n' "$got" >"$OUT.got"
		_t_extra=$(diff -u --label expected --label got "$OUT.expected" "$OUT.got" |
			sed 's/^/#   /')
		_t_report_cmd "$desc" "unexpected stdout (diff below)" "$@"
	else
		test_ok "$desc"
	fi
}

compare() {
	local desc=$1 a=$2 b=$3
	if [[ ! -e $a || ! -e $b ]]; then
		test_not_ok "$desc" "missing file: $([[ -e $a ]] || echo "$a ")$([[ -e $b ]] || echo "$b")"
	elif diff -u "$a" "$b" >"${TEST_DIR:-.}/.lib/compare.diff" 2>&1; then
		test_ok "$desc"
	else
		test_not_ok "$desc" "files differ: $a $b"
		head -n 60 "${TEST_DIR:-.}/.lib/compare.diff" | sed 's/^/#   /' >&2
		return 1
	fi
}

test_done() {
	if ((_t_failed == 0)); then
		exit 0
	fi
	echo "# $TEST_NAME: $_t_failed of $((_t_passed + _t_failed)) checks failed" >&2
	exit 1
}

# --- fixtures: token server, fault server (tests/fixtures/) -------------------

FIXTURES=$TOP/tests/fixtures
_FX_PYTHON=/usr/bin/python3
ALT_LOOPBACK=127.0.0.2
_fx_keys=()
declare -gA _fx_pid=()

alt_loopback_ok() {
	"$_FX_PYTHON" -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0))' \
		"$ALT_LOOPBACK" 2>/dev/null
}

# _fx_launch KEY DIR PROGRAM ARGS...: starts a fixture (not in a subshell: it
# records the pid), waits up to 10 s for DIR/ready; sets _FX_ADDR and _FX_PID.
_fx_launch() {
	local key=$1 dir=$2 prog=$3 pid i
	shift 3
	[[ -x $_FX_PYTHON ]] || { echo "fixture: $_FX_PYTHON not found" >&2; return 1; }
	_fx_stop "$key"
	mkdir -p "$dir" || return 1
	rm -f "$dir/ready"
	setpriv --pdeathsig KILL "$_FX_PYTHON" "$FIXTURES/$prog" --ready-file "$dir/ready" "$@" \
		</dev/null >"$dir/stderr" 2>&1 &
	pid=$!
	_fx_pid[$key]=$pid
	_fx_keys+=("$key")
	for ((i = 0; i < 100; i++)); do
		[[ -s $dir/ready ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ ! -s $dir/ready ]]; then
		echo "fixture: $prog did not start; its stderr:" >&2
		tail -n 20 "$dir/stderr" >&2
		_fx_stop "$key"
		return 1
	fi
	_FX_ADDR=$(<"$dir/ready")
	_FX_PID=$pid
}

_fx_stop() { # KEY
	local key=$1 pid i
	pid=${_fx_pid[$key]-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		[[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]] && break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "_fx_pid[$key]"
	local k keep=()
	for k in "${_fx_keys[@]}"; do
		[[ $k == "$key" ]] || keep+=("$k")
	done
	_fx_keys=("${keep[@]}")
	return 0
}

_fx_stop_all() {
	local k
	for k in "${_fx_keys[@]}"; do
		_fx_stop "$k"
	done
	_fx_keys=()
}

# token_server_start [--user U:P]... [--reader U:P]... [--anonymous-pull] [...]
token_server_start() {
	local issuer=hoist-test-issuer service=hoist-test-registry user='' a prev=''
	for a in "$@"; do
		case $prev in
		--issuer) issuer=$a ;;
		--service) service=$a ;;
		--user) [[ -z $user ]] && user=$a ;;
		esac
		prev=$a
	done
	local dir=${REGISTRY_BASEDIR:-$PWD}/token-server
	rm -rf "$dir"
	_fx_launch token "$dir" token-server --dir "$dir" --log "$dir/requests.log" \
		--issuer "$issuer" --service "$service" "$@" || return 1
	: >>"$dir/requests.log"
	TOKEN_SERVER=$_FX_ADDR
	TOKEN_REALM=http://$_FX_ADDR/token
	TOKEN_ISSUER=$issuer
	TOKEN_SERVICE=$service
	TOKEN_CERT=$dir/token.pem
	TOKEN_KEY=$dir/token.key
	TOKEN_LOG=$dir/requests.log
	TOKEN_DIR=$dir
	TOKEN_PID=$_FX_PID
	TOKEN_USER=${user%%:*}
	TOKEN_PASS=
	[[ -n $user ]] && TOKEN_PASS=${user#*:}
	return 0
}

token_server_stop() {
	_fx_stop token
	unset TOKEN_SERVER TOKEN_REALM TOKEN_PID
}

# registry_start_token [registry_start options]: a registry that trusts the
# running token server.
registry_start_token() {
	[[ -n ${TOKEN_REALM-} ]] || { echo "registry_start_token: no token server (token_server_start)" >&2; return 1; }
	registry_start --token "$TOKEN_REALM" "$TOKEN_ISSUER" "$TOKEN_SERVICE" "$TOKEN_CERT" "$@" || return 1
	local name=default i args=("$@")
	for ((i = 0; i < ${#args[@]}; i++)); do
		[[ ${args[i]} == --name ]] && name=${args[i + 1]}
	done
	if [[ -n $TOKEN_USER ]]; then
		_reg_set "$name" REGISTRY_USER "$TOKEN_USER"
		_reg_set "$name" REGISTRY_PASS "$TOKEN_PASS"
		(umask 077 && printf '%s:%s\n' "$TOKEN_USER" "$TOKEN_PASS" >"$REGISTRY_DIR/creds")
	fi
	return 0
}

# fault_server_start [--name N] [--addr A] [fault-server options]
fault_server_start() {
	local name=default args=()
	while (($#)); do
		case $1 in
		--name)
			[[ ${2-} =~ ^[A-Za-z0-9_]+$ ]] || { echo "fault_server_start: --name needs [A-Za-z0-9_]+" >&2; return 1; }
			name=$2; shift 2 ;;
		*) args+=("$1"); shift ;;
		esac
	done
	local dir=${REGISTRY_BASEDIR:-$PWD}/fault-$name
	rm -rf "$dir"
	mkdir -p "$dir" && : >"$dir/requests.log" || return 1
	_fx_launch "fault-$name" "$dir" fault-server --log "$dir/requests.log" "${args[@]}" ||
		return 1
	local k v
	for k in FAULT FAULT_URL FAULT_LOG FAULT_DIR FAULT_PID; do
		case $k in
		FAULT) v=$_FX_ADDR ;;
		FAULT_URL) v=http://$_FX_ADDR ;;
		FAULT_LOG) v=$dir/requests.log ;;
		FAULT_DIR) v=$dir ;;
		FAULT_PID) v=$_FX_PID ;;
		esac
		printf -v "$k" '%s' "$v"
		[[ $name == default ]] || printf -v "${k}_$name" '%s' "$v"
	done
	return 0
}

fault_server_stop() { # [NAME]
	local name=${1:-default} k
	if [[ -n ${_fx_pid[fault-$name]-} && ${FAULT_PID-} == "${_fx_pid[fault-$name]}" ]]; then
		unset FAULT FAULT_URL FAULT_LOG FAULT_DIR FAULT_PID
	fi
	_fx_stop "fault-$name"
	if [[ $name != default ]]; then
		for k in FAULT FAULT_URL FAULT_LOG FAULT_DIR FAULT_PID; do
			unset "${k}_$name"
		done
	fi
	return 0
}

faultfs() {
	local after=0 times=
	while (($#)); do
		case $1 in
		--after) after=$2; shift 2 ;;
		--times) times=$2; shift 2 ;;
		*) break ;;
		esac
	done
	local op=$1 path=$2 errno=$3 log=$TEST_DIR/.lib/faultfs.log
	shift 3
	: >"$log"
	LD_PRELOAD=$TOOLS/faultfs.so FAULTFS_OP=$op FAULTFS_PATH=$path FAULTFS_ERRNO=$errno \
		FAULTFS_AFTER=$after FAULTFS_TIMES=$times FAULTFS_LOG=$log \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 "$@"
}

# ---- images for push and copy tests -------------------------------------

# mk_image LAYOUT REF-NAME [ARCH] [BIG-BYTES]: adds a two-layer OCI image (a
# random layer of BIG-BYTES, default 3 MB, and a small one) to LAYOUT under
# REF-NAME; prints its manifest digest.
mk_image() {
	local lay=$1 name=$2 arch=${3:-amd64} size=${4:-3000000} tmp l1 l2 cfg man
	mkdir -p "$lay/blobs/sha256" || return 1
	[[ -f $lay/oci-layout ]] || echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
	[[ -f $lay/index.json ]] || echo '{"schemaVersion":2,"manifests":[]}' >"$lay/index.json"
	tmp=$(mktemp -d) || return 1
	mkdir -p "$tmp/root"
	head -c "$size" /dev/urandom >"$tmp/root/big"
	echo "$name $arch" >"$tmp/root/small"
	tar --mtime=@0 --owner=0 --group=0 -C "$tmp/root" -cf "$tmp/l1.tar" big
	tar --mtime=@0 --owner=0 --group=0 -C "$tmp/root" -cf "$tmp/l2.tar" small
	_mk_put() { local h; h=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$lay/blobs/sha256/$h"; echo "$h"; }
	l1=$(_mk_put "$tmp/l1.tar")
	l2=$(_mk_put "$tmp/l2.tar")
	jq -cn --arg a "$arch" --arg l1 "sha256:$l1" --arg l2 "sha256:$l2" \
		'{architecture:$a, os:"linux", config:{Cmd:["/big"]},
		  rootfs:{type:"layers", diff_ids:[$l1,$l2]}}' >"$tmp/config.json"
	cfg=$(_mk_put "$tmp/config.json")
	jq -cn --arg c "sha256:$cfg" --argjson cs "$(stat -c %s "$tmp/config.json")" \
		--arg l1 "sha256:$l1" --argjson s1 "$(stat -c %s "$tmp/l1.tar")" \
		--arg l2 "sha256:$l2" --argjson s2 "$(stat -c %s "$tmp/l2.tar")" \
		'{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
		  config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$c, size:$cs},
		  layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar", digest:$l1, size:$s1},
			  {mediaType:"application/vnd.oci.image.layer.v1.tar", digest:$l2, size:$s2}]}' \
		>"$tmp/manifest.json"
	man=$(_mk_put "$tmp/manifest.json")
	jq -c --arg d "sha256:$man" --argjson s "$(stat -c %s "$tmp/manifest.json")" \
		--arg n "$name" --arg a "$arch" \
		'.manifests += [{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d,
		  size:$s, platform:{architecture:$a, os:"linux"},
		  annotations:{"org.opencontainers.image.ref.name":$n}}]' \
		"$lay/index.json" >"$tmp/index.json" && mv "$tmp/index.json" "$lay/index.json"
	rm -rf "$tmp"
	echo "sha256:$man"
}
sk_digest() { skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$1"; }
# blob_writes LOG: the blob uploads (PATCH, PUT, non-mount POST) a registry logged
blob_writes() { grep -cE '"(PATCH|PUT) /v2/[^ ]*/blobs/|"POST /v2/[^ ]*/blobs/uploads/ ' "$1"; }
# push_oci LAYOUT:TAG REF [skopeo args]: skopeo copies an OCI layout's image
# to a registry (plain http)
push_oci() {
	local src=$1 dst=$2
	shift 2
	skopeo --insecure-policy copy --quiet --dest-tls-verify=false "$@" "oci:$src" \
		"docker://$dst" >/dev/null 2>"$TEST_DIR/.lib/skopeo.err"
}
# pull_oci REF LAYOUT:TAG: skopeo copies a registry's image into an OCI layout
pull_oci() {
	skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$1" "oci:$2" \
		>/dev/null 2>"$TEST_DIR/.lib/skopeo.err"
}
# tree DIR: every path below DIR with its type and permission bits
tree() { (cd "$1" && find . -mindepth 1 -printf '%P %y %m\n' | sort); }
# tarlist TAR: the names in a tar, cleaned, with their type and mode
tarlist() {
	python3 - "$1" <<'EOF'
import sys, tarfile
t = tarfile.open(sys.argv[1])
ty = {tarfile.DIRTYPE: 'd', tarfile.SYMTYPE: 'l', tarfile.REGTYPE: 'f', tarfile.LNKTYPE: 'f'}
for m in sorted(t.getmembers(), key=lambda m: m.name.strip('/')):
    print(m.name.strip('/'), ty.get(m.type, '?'), oct(m.mode)[2:])
EOF
}
