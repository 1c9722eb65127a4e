# The driver of one sandbox session: runs cells in one interpreter, so that what a cell
# defines is there for the next. It speaks length-prefixed JSON frames on the two file
# descriptors it is started with (its stdin and stdout), which it keeps to itself:
# a cell's stdout and stderr (fds 1 and 2, and sys.stdout/sys.stderr) go to a capped
# capture instead.
#
#   {"op": "put", "files": [{"name", "data"}]}  -> {"ok": true}
#   {"op": "exec", "code"}                      -> {"logs", "truncated", "error",
#                                                   "images": [png], "files": [{"name", "data"}]}
#
# `data` and `images` are base64. `files` are the files under /mnt/data that the cell
# created or changed. Everything here is best effort for the user's code: whatever the
# cell does, the reply reports it and the host decides what it means.
import ast, base64, io, json, os, signal, struct, sys, traceback

WORK = "/mnt/data"
CAP = int(os.environ.get("ASSISTD_OUTPUT_CAP", "65536"))
RAW = "/run/cell/output"

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file too large is an error, not death
proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)


class Capture(io.TextIOBase):
    """A text stream that keeps the first CAP bytes written to it and counts the rest."""

    def __init__(self):
        self.parts, self.size, self.dropped = [], 0, 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        b = s.encode("utf-8", "replace")
        room = CAP - self.size
        if room > 0:
            self.parts.append(b[:room])
            self.size += min(room, len(b))
        self.dropped += max(0, len(b) - max(room, 0))
        return len(s)

    def flush(self):
        pass


def read_frame():
    head = proto_in.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    data = b""
    while len(data) < n:
        chunk = proto_in.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def write_frame(obj):
    data = json.dumps(obj).encode()
    proto_out.write(struct.pack(">I", len(data)) + data)


def snapshot():
    seen = {}
    for root, dirs, files in os.walk(WORK):
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if os.path.isfile(path) and not os.path.islink(path):
                seen[os.path.relpath(path, WORK)] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return seen


def put(files):
    for f in files:
        path = os.path.join(WORK, f["name"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(base64.b64decode(f["data"]))
    return {"ok": True}


def figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    images = []
    try:
        for num in plt.get_fignums():
            buf = io.BytesIO()
            plt.figure(num).savefig(buf, format="png")
            images.append(base64.b64encode(buf.getvalue()).decode())
        plt.close("all")
    except Exception:
        pass
    return images


NAMESPACE = {"__name__": "__main__", "__builtins__": __builtins__}


def run_cell(code):
    before = snapshot()
    capture = Capture()
    raw = os.open(RAW, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(raw, 1)
    os.dup2(raw, 2)
    os.close(raw)
    sys.stdout = sys.stderr = capture
    error = None
    try:
        try:
            tree = ast.parse(code, "<cell>")
        except SyntaxError:
            error = traceback.format_exc(limit=0)
        else:
            # like a notebook: the value of a last bare expression is shown
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, "<cell>", "exec"), NAMESPACE)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), NAMESPACE)
                if value is not None:
                    capture.write(repr(value) + "\n")
    except MemoryError:
        error = "MemoryError: memory limit exceeded\n"
    except SystemExit as exc:
        error = "SystemExit: %s\n" % (exc.code,)
    except BaseException:
        kind, value, tb = sys.exc_info()
        error = "".join(traceback.format_exception(kind, value, tb.tb_next if tb else None))
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    # what was written straight to fds 1 and 2 (subprocesses, C code)
    try:
        with open(RAW, "rb") as f:
            raw_out = f.read(CAP + 1)
        if raw_out:
            capture.write(raw_out.decode("utf-8", "replace"))
        raw_size = os.path.getsize(RAW)
        capture.dropped += max(0, raw_size - len(raw_out))
        os.truncate(RAW, 0)
    except OSError:
        pass
    if error:
        capture.write(error)
    after = snapshot()
    changed = []
    for name, stamp in sorted(after.items()):
        if before.get(name) != stamp:
            try:
                with open(os.path.join(WORK, name), "rb") as f:
                    changed.append({"name": name, "data": base64.b64encode(f.read()).decode()})
            except OSError:
                pass
    logs = b"".join(capture.parts).decode("utf-8", "replace")
    return {
        "logs": logs,
        "truncated": capture.dropped > 0,
        "error": error is not None,
        "images": figures(),
        "files": changed,
    }


def main():
    os.chdir(WORK)
    # the font cache scripts/setup-sandbox built, so that the first chart is quick
    cache = os.path.join(sys.prefix, ".matplotlib")
    mine = os.environ.get("MPLCONFIGDIR")
    if mine and os.path.isdir(cache) and not os.path.exists(mine):
        try:
            import shutil
            shutil.copytree(cache, mine)
        except OSError:
            pass
    while True:
        request = read_frame()
        if request is None:
            return
        try:
            if request["op"] == "put":
                reply = put(request["files"])
            elif request["op"] == "exec":
                reply = run_cell(request["code"])
            else:
                reply = {"fatal": "unknown op"}
        except MemoryError:
            reply = {"fatal": "memory limit exceeded"}
        except Exception as exc:
            reply = {"fatal": "%s: %s" % (type(exc).__name__, exc)}
        write_frame(reply)


main()
