"""The human-baseline session and its HTTP interface (and, when Chromium is installed, its page)."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import shutil
import subprocess
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fermask.errors import FermaskError
from fermask.human_baseline import Session, format_summary, make_server
from fermask.labels import EMOTIONS

N = 8


@pytest.fixture(scope="module")
def data_folder(lfw_crops48: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real 48x48 faces in a <label>/*.png folder; labels assigned in turn."""
    root = tmp_path_factory.mktemp("hbdata")
    for i, img in enumerate(lfw_crops48[:21]):
        d = root / EMOTIONS[i % 7]
        d.mkdir(exist_ok=True)
        Image.fromarray(img).save(d / f"{i:03d}.png")
    return root


@pytest.fixture()
def session(data_folder: Path, tmp_path: Path) -> Session:
    return Session.create(tmp_path / "s", data_folder, n=N, seed=1)


def call(url: str, body: object = None, raw: bytes | None = None) -> tuple[int, object]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            payload = r.read()
            ctype = r.headers.get("Content-Type", "")
            return r.status, json.loads(payload) if "json" in ctype else payload
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture()
def server(session: Session):
    srv = make_server(session, port=0)
    srv.serve_in_thread()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_session_is_fixed_and_masked(session: Session, data_folder: Path, tmp_path: Path) -> None:
    assert session.total == N
    manifest = json.loads((session.folder / "manifest.json").read_text())
    assert manifest["masking"]["styles"][0]["name"] == "surgical"
    assert all(it.style == "surgical" for it in session.items)
    # masked images differ from their sources in the lower half (the mask), not in the eyes
    it = session.items[0]
    masked = np.asarray(Image.open(session.folder / it.file))
    from fermask.data import load_fer_data

    ds = load_fer_data(data_folder)
    src = ds.images[it.source_index]
    assert ds.label_names[ds.labels[it.source_index]] == it.label
    assert masked.shape == (48, 48)
    assert np.abs(masked[30:].astype(int) - src[30:]).mean() > np.abs(masked[:15].astype(int) - src[:15]).mean()
    # the same seed draws the same set; reopening never redraws
    again = Session.create(tmp_path / "other", data_folder, n=N, seed=1)
    assert [i.source_index for i in again.items] == [i.source_index for i in session.items]
    with pytest.warns(UserWarning, match="resuming it unchanged"):
        same = Session.create(session.folder, data_folder, n=3, seed=9)
    assert same.total == N


def test_http_flow_resume_and_scoring(server, session: Session) -> None:
    base = server.url
    assert base.startswith("http://127.0.0.1:")
    status, page = call(base)
    assert status == 200 and b"/api/answer" in page and b"keydown" in page
    status, nxt = call(base + "api/next")
    assert status == 200 and nxt["done"] is False and nxt["id"] == 0 and nxt["total"] == N
    assert nxt["labels"] == list(EMOTIONS)
    status, png = call(base + nxt["image"].lstrip("/"))
    assert status == 200 and png[:4] == b"\x89PNG"
    assert call(base + "images/../manifest.json")[0] == 404
    assert call(base + "api/nope")[0] == 404

    # bad answers are refused with a reason and nothing is saved
    assert call(base + "api/answer", {"id": 0, "answer": "bored"})[0] == 400
    assert call(base + "api/answer", {"id": 99, "answer": "happy"})[0] == 400
    assert call(base + "api/answer", raw=b"{not json")[0] == 400
    assert not (session.folder / "answers.jsonl").exists()

    # answer the first half: right on even ids, "neutral" (wrong unless true) on odd ids
    truth = {it.id: it.label for it in session.items}
    given = {}
    for i in range(N // 2):
        ans = truth[i] if i % 2 == 0 else ("neutral" if truth[i] != "neutral" else "happy")
        status, rep = call(base + "api/answer", {"id": i, "answer": ans, "ms": 900})
        assert status == 200 and rep["recorded"] is True and rep["answered"] == i + 1
        given[i] = ans
    # a repeated answer does not overwrite the first
    status, rep = call(base + "api/answer", {"id": 0, "answer": "fear"})
    assert status == 200 and rep["recorded"] is False
    lines = (session.folder / "answers.jsonl").read_text().splitlines()
    assert len(lines) == N // 2  # every answer was on disk when the reply came

    # "closing the browser": a new session object on the same folder resumes
    resumed = Session.open(session.folder)
    assert resumed.answers == given
    assert resumed.next_item().id == N // 2
    assert call(base + "api/next")[1]["id"] == N // 2

    for i in range(N // 2, N):
        call(base + "api/answer", {"id": i, "answer": truth[i]})
        given[i] = truth[i]
    assert call(base + "api/next")[1]["done"] is True
    status, summary = call(base + "api/summary")
    correct = sum(given[i] == truth[i] for i in range(N))
    assert summary["answered"] == N and summary["correct"] == correct
    assert summary["accuracy"] == pytest.approx(correct / N, abs=1e-4)
    conf = np.array(summary["confusion"])
    assert conf.sum() == N and np.trace(conf) == correct
    for i in range(N):
        assert conf[EMOTIONS.index(truth[i]), EMOTIONS.index(given[i])] >= 1
    assert summary["model"] is None
    assert "human accuracy" in format_summary(summary)


def test_summary_with_model_on_same_images(session: Session) -> None:
    keras = pytest.importorskip("keras")
    from fermask.predictor import Predictor

    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(7, activation="softmax",
                                                 kernel_initializer=keras.initializers.RandomNormal(stddev=0.5))])
    predictor = Predictor(model)
    for it in session.items[:5]:
        session.answer(it.id, it.label)
    s = session.summary(predictor, "tiny")
    x = np.stack([np.asarray(Image.open(p), dtype=np.float32)[..., None] for p in session.image_paths()])
    pred = np.asarray(model(x)).argmax(axis=1)
    truth = np.array([EMOTIONS.index(it.label) for it in session.items])
    assert s["model"]["name"] == "tiny"
    assert s["model"]["correct"] == int((pred[:5] == truth[:5]).sum())  # only the answered images
    assert s["model"]["accuracy_all"] == pytest.approx((pred == truth).mean(), abs=1e-4)
    assert s["accuracy"] == 1.0 and s["answered"] == 5


def test_cli_summary_and_truncated_answers(session: Session, capsys) -> None:
    import argparse

    from fermask.commands import human_baseline as cmd

    session.answer(0, session.items[0].label)
    with open(session.folder / "answers.jsonl", "a") as f:
        f.write('{"id": 1, "answ')  # a write cut short by a crash
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    with pytest.warns(UserWarning, match="unreadable answer line"):
        code = cmd.run(parser.parse_args(["--session", str(session.folder), "--summary", "--json"]))
    assert code == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)  # stdout is the JSON alone, ready for a pipe
    assert out["answered"] == 1 and out["accuracy"] == 1.0
    assert "resuming" in captured.err


def request(srv, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One raw request (headers as given; http.client adds Host unless given); the JSON reply."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def strict_json(text: bytes | str) -> object:
    """json.loads that refuses NaN and Infinity, as browsers' JSON.parse does."""
    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


JSON = {"Content-Type": "application/json"}
ANSWER = b'{"id": 0, "answer": "happy", "ms": 10}'


def test_refuses_other_pages_and_rebound_hosts(server, session: Session) -> None:
    port = server.server_address[1]
    answers = session.folder / "answers.jsonl"
    # another web page posting a "simple" cross-origin request, as a browser sends it without preflight
    status, rep = request(server, "POST", "/api/answer", ANSWER,
                          {"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example"})
    assert status == 403 and rep["ok"] is False and "Origin 'http://evil.example'" in rep["error"]
    assert request(server, "POST", "/api/answer", ANSWER, {**JSON, "Origin": "null"})[0] == 403
    assert request(server, "POST", "/api/answer", ANSWER,
                   {**JSON, "Origin": f"http://127.0.0.1:{port + 1}"})[0] == 403
    # DNS rebinding: the browser sends the attacker's name as Host, for reads and writes alike
    for method, path, body in (("GET", "/api/summary", None), ("GET", "/", None), ("POST", "/api/answer", ANSWER)):
        status, rep = request(server, method, path, body, {**JSON, "Host": f"evil.example:{port}"})
        assert status == 403 and "Host 'evil.example:" in rep["error"] and server.url in rep["error"]
    assert request(server, "GET", "/api/next", None, {"Host": f"127.0.0.1:{port + 1}"})[0] == 403
    # same origin but not JSON: 415, the page's own fetch sends application/json
    status, rep = request(server, "POST", "/api/answer", ANSWER, {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in rep["error"] and "text/plain" in rep["error"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert request(server, "POST", "/api/answer", ANSWER, form)[0] == 415
    assert not answers.exists()  # nothing of the above was recorded
    # the server's own names are accepted, with and without an Origin
    for name in ("localhost", "[::1]", "LOCALHOST"):
        assert request(server, "GET", "/api/next", None, {"Host": f"{name}:{port}"})[0] == 200
    status, rep = request(server, "POST", "/api/answer", ANSWER,
                          {**JSON, "Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"})
    assert status == 200 and rep["recorded"] is True
    status, rep = request(server, "POST", "/api/answer", b'{"id": 1, "answer": "sad"}',
                          {"Content-Type": "application/json; charset=utf-8", "Origin": server.url.rstrip("/")})
    assert status == 200 and rep["recorded"] is True
    assert Session.open(session.folder).answers == {0: "happy", 1: "sad"}


BAD_ANSWERS = {
    "infinite id": (b'{"id": 1e999, "answer": "happy"}', "too large"),
    "fractional id": (b'{"id": 1.9, "answer": "happy"}', '"id" must be a whole number'),
    "boolean id": (b'{"id": true, "answer": "happy"}', "got true"),
    "string id": (b'{"id": "1", "answer": "happy"}', '"id" must be a whole number'),
    "negative id": (b'{"id": -1, "answer": "happy"}', "0-7"),
    "id past the end": (b'{"id": 8, "answer": "happy"}', "0-7"),
    "huge id": (b'{"id": ' + b"9" * 5000 + b', "answer": "happy"}', "JSON"),
    "string ms": (b'{"id": 1, "answer": "happy", "ms": "nan"}', '"ms" must be null or a number'),
    "NaN ms": (b'{"id": 1, "answer": "happy", "ms": NaN}', "NaN is not a number"),
    "Infinity ms": (b'{"id": 1, "answer": "happy", "ms": Infinity}', "Infinity is not a number"),
    "overflowing ms": (b'{"id": 1, "answer": "happy", "ms": -1e999}', "too large"),
    "negative ms": (b'{"id": 1, "answer": "happy", "ms": -5}', '"ms" must be'),
    "boolean ms": (b'{"id": 1, "answer": "happy", "ms": true}', '"ms" must be'),
    "a year of ms": (b'{"id": 1, "answer": "happy", "ms": 31536000000}', '"ms" must be'),
    "non-string answer": (b'{"id": 1, "answer": 3}', '"answer" must be a label name'),
    "missing answer": (b'{"id": 1}', "required"),
    "unknown field": (b'{"id": 1, "answer": "happy", "extra": 1}', "'extra'"),
    "a list": (b'[1, "happy"]', "expected a JSON object"),
    "deep nesting": (b"[" * 9000, "JSON"),
    "not UTF-8": (b'{"id": 1, "answer": "\xff"}', "JSON"),
    "unknown label": (b'{"id": 1, "answer": "bored"}', "unknown answer"),
}


def test_answer_values_are_checked_strictly(server, session: Session) -> None:
    for name, (body, message) in BAD_ANSWERS.items():
        status, rep = request(server, "POST", "/api/answer", body, JSON)  # a reply, never a dropped connection
        assert (status, rep["ok"]) == (400, False), name
        assert message in rep["error"], (name, rep["error"])
    assert not (session.folder / "answers.jsonl").exists()
    # the body size is capped, and a body needs a length
    status, rep = request(server, "POST", "/api/answer", b'{"id": 1, "answer": "' + b"a" * 20_000 + b'"}', JSON)
    assert status == 413 and "at most 10000" in rep["error"]
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    conn.putrequest("POST", "/api/answer")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 411 and "Content-Length" in json.loads(r.read())["error"]
    conn.close()
    # a good answer still goes through, and the summary stays strict JSON
    assert request(server, "POST", "/api/answer", b'{"id": 1, "answer": "happy", "ms": 12.5}', JSON)[0] == 200
    status, rep = request(server, "GET", "/api/summary")
    assert status == 200 and rep["answered"] == 1 and rep["mean_ms"] == 12.5
    # the Python API refuses a non-finite time too, and a NaN already on disk is read as "no time"
    with pytest.raises(FermaskError, match="finite number"):
        session.answer(2, "happy", float("nan"))
    with open(session.folder / "answers.jsonl", "a") as f:
        f.write('{"id": 2, "answer": "sad", "ms": NaN}\n')
    reopened = Session.open(session.folder)
    assert reopened.answers[2] == "sad"
    strict_json(json.dumps(reopened.summary()))


def test_burst_of_answers_is_neither_reset_nor_lost(server, session: Session) -> None:
    """300 concurrent connections: the listen queue must hold them all (the default of 5 resets some)."""
    truth = [it.label for it in session.items]

    def post(k: int) -> tuple[int, bool]:
        body = json.dumps({"id": k % N, "answer": truth[k % N], "ms": k}).encode()
        status, rep = request(server, "POST", "/api/answer", body, JSON)
        return status, rep["recorded"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=300) as pool:
        results = list(pool.map(post, range(300)))  # an exception here (reset, timeout) fails the test
    assert [status for status, _ in results] == [200] * 300
    assert sum(recorded for _, recorded in results) == N  # each image once, the first answer counts
    lines = (session.folder / "answers.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["id"] for x in lines) == list(range(N))
    assert Session.open(session.folder).answers == dict(enumerate(truth))


def test_torn_last_line_loses_no_answer(session: Session) -> None:
    path = session.folder / "answers.jsonl"
    for i in range(3):
        session.answer(i, "happy")
    data = path.read_bytes()
    path.write_bytes(data[:-12])  # power loss: the last record is cut mid-line
    with pytest.warns(UserWarning, match="unreadable answer line"):
        resumed = Session.open(session.folder)
    assert resumed.answers == {0: "happy", 1: "happy"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resumed.answer(3, "sad") is True
        assert resumed.answer(2, "fear") is True  # the cut record was never whole: answer it again
    assert [str(w.message).count("ended in a cut-off line") for w in caught] == [1]  # warned once
    with pytest.warns(UserWarning, match="unreadable answer line"):
        again = Session.open(session.folder)
    assert again.answers == {0: "happy", 1: "happy", 3: "sad", 2: "fear"}
    # zeros left by a power loss are a torn tail too
    with open(path, "ab") as f:
        f.write(b"\x00" * 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Session.open(session.folder).answer(4, "angry")
        assert Session.open(session.folder).answers[4] == "angry"


def test_answer_glued_to_a_torn_line_by_an_older_version_is_kept(session: Session) -> None:
    path = session.folder / "answers.jsonl"
    path.write_text('{"id": 0, "answer": "happy", "ms": 5}\n{"id": 1, "answ'
                    '{"id": 2, "answer": "sad", "time": 1.0, "ms": 7}\n{"id": 3, "answer": "fear"}\n')
    with pytest.warns(UserWarning, match="glued after it kept"):
        s = Session.open(session.folder)
    assert s.answers == {0: "happy", 2: "sad", 3: "fear"}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium)")
def test_page_in_headless_chromium(server, session: Session, tmp_path: Path) -> None:
    """The real page, in a real browser, clicks through every image (?selftest=1) and shows the summary."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}",
           "--virtual-time-budget=20000", "--dump-dom", server.url + "?selftest=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    dom = proc.stdout
    lines = (session.folder / "answers.jsonl").read_text().splitlines()
    assert len(lines) == N, (proc.stderr[-2000:], dom[-2000:])
    assert [json.loads(x)["answer"] for x in lines] == ["angry"] * N  # the first button, clicked each time
    assert 'id="human-accuracy"' in dom and "Your accuracy" in dom


def test_load_data_is_a_deprecated_alias_of_load_fer_data(data_folder: Path, tmp_path: Path) -> None:
    from fermask.data import DataNotFoundError, load_fer_data
    from fermask.human_baseline import load_data

    with pytest.warns(DeprecationWarning, match="use fermask.data.load_fer_data instead"):
        ds = load_data(data_folder)
    assert np.array_equal(ds.images, load_fer_data(data_folder).images)
    # one reader, one set of errors: a missing path says where to get FER2013, as load_fer_data does
    with pytest.warns(DeprecationWarning), pytest.raises(DataNotFoundError, match="FER2013 is not shipped"):
        load_data(tmp_path / "missing.csv")
    with pytest.raises(DataNotFoundError, match="FER2013 is not shipped"):
        Session.create(tmp_path / "s", tmp_path / "missing.csv", n=2)
