# tests/serve_start.sh -- sourced by the siam serve tests:
#   serve_start SIAM TMPDIR [serve options]
# starts SIAM serve with the options in the background, its output in
# TMPDIR/out and TMPDIR/err, and waits for the line that says where it
# listens: sets pid, and port (empty if the server did not start).
serve_start() {
	_siam=$1 _dir=$2
	shift 2
	# emptied here, not only by the child's redirection: the loop below
	# may read the file before the child opens it, and would then find
	# the port of the server started before this one
	: >"$_dir/out"
	"$_siam" serve "$@" >"$_dir/out" 2>"$_dir/err" &
	pid=$!
	port=
	for _ in $(seq 1 600); do
		port=$(sed -n 's|^siam serve: listening on http://[^/]*:\([0-9]*\)/$|\1|p' "$_dir/out")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}
