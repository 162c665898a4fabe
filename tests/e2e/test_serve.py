"""`ptinfer serve`: a real server on a loopback port, spoken to with curl exactly as TorchServe's
documentation shows and with python3-requests for KServe v2. Answers must equal `ptinfer predict`
and PyTorch for the same images; batching is read from /metrics; bad clients get their status."""
import base64
import json
import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import requests
import torch
import torchvision
import torchvision.transforms as T

import common
from PIL import Image

NUM_CLASSES = 3  # fewer than TorchServe's top 5
SIZE = 32        # small images keep resnet18 fast on two cores
LABELS = ["cat", "dog", "bird"]
STARTUP_TIMEOUT = 180


class ServerProcess:
    """`ptinfer serve ... --port 0`; reads the port from the "listening on" line and, unless
    wait_ready is False, waits for the "ready" line (every model loaded and warmed up). Every
    stdout line (the log too: PTINFER_LOG_STDOUT=1) is kept in `self.output`."""

    def __init__(self, args, wait_ready=True):
        env = dict(os.environ)
        env.setdefault("PTINFER_LOG_DIR", os.path.join(tempfile.gettempdir(), "ptinfer-test-logs"))
        env["PTINFER_NUM_THREADS"] = "1"
        env["PTINFER_LOG_STDOUT"] = "1"
        self.output = []
        # A file, not a pipe: nobody reads stderr while the server runs.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([common.PTINFER, "serve", "--port", "0"] + args,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     env=env)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = None
        self.wait_for(r"listening on http://[^:]+:(\d+)")
        self.url = "http://127.0.0.1:%d" % self.port
        if wait_ready:
            self.wait_for(r"^ptinfer serve: ready$")

    def wait_for(self, pattern):
        """Reads stdout lines until one matches `pattern`; returns the match."""
        deadline = time.time() + STARTUP_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                self.kill()
                raise AssertionError("server printed no /%s/ in %d s" % (pattern, STARTUP_TIMEOUT))
            if line is None:
                self.stderr.seek(0)
                raise AssertionError("server exited: %s" % self.stderr.read())
            m = re.search(pattern, line.rstrip("\n"))
            if m and m.re.groups and self.port is None:
                self.port = int(m.group(1))
            if m:
                return m

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.stderr.close()

    def metric(self, name, **labels):
        text = requests.get(self.url + "/metrics", timeout=30).text
        want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith("%s{%s} " % (name, want)):
                return float(line.split()[-1])
        return 0.0


def curl(*args):
    """Runs curl; returns (status, body)."""
    proc = subprocess.run(["curl", "-sS", "-m", "60", "-w", "\n%{http_code}"] + list(args),
                          capture_output=True, text=True, timeout=90)
    body, _, status = proc.stdout.rpartition("\n")
    return int(status), body


class Serve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_serve_")
        cls.ckpt = common.make_guide_checkpoint(os.path.join(cls.tmp, "r18.pth.tar"), "resnet18",
                                                NUM_CLASSES, seed=7)
        cls.labels = os.path.join(cls.tmp, "index_to_name.json")
        with open(cls.labels, "w") as f:
            json.dump({str(i): n for i, n in enumerate(LABELS)}, f)
        folder = common.make_image_folder(os.path.join(cls.tmp, "imgs"), ["x"], 16, seed=11)
        cls.paths = sorted(os.path.join(folder, "x", f) for f in os.listdir(os.path.join(folder, "x")))
        # PyTorch's answers for every image.
        state = {k[len("module."):]: v for k, v in torch.load(cls.ckpt)["state_dict"].items()}
        model = torchvision.models.resnet18(num_classes=NUM_CLASSES)
        model.load_state_dict(state)
        model.eval()
        tf = T.Compose([T.Resize(SIZE), T.CenterCrop(SIZE), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        with torch.no_grad():
            cls.inputs = torch.stack([tf(Image.open(p).convert("RGB")) for p in cls.paths])
            cls.logits = model(cls.inputs)
        cls.probs = torch.softmax(cls.logits, 1)
        # `ptinfer predict` on the same images.
        out = os.path.join(cls.tmp, "predict.json")
        common.run_ptinfer(["predict", "-a", "resnet18", "--resume", cls.ckpt, "--labels",
                            cls.labels, "--resize-size", str(SIZE), "--crop-size", str(SIZE),
                            "--json", out] + cls.paths)
        with open(out) as f:
            cls.predicted = {p["path"]: p["topk"] for p in json.load(f)}
        cls.model_flag = "r18=%s,arch=resnet18,labels=%s" % (cls.ckpt, cls.labels)
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.kill()

    def start(self, *extra):
        server = ServerProcess(["--model", self.model_flag, "--resize-size", str(SIZE),
                                "--crop-size", str(SIZE)] + list(extra))
        self.servers.append(server)
        self.addCleanup(server.kill)
        return server

    def check_torchserve_answer(self, answer, i):
        """`answer` is TorchServe's {label: probability}; image i's PyTorch and predict top-k."""
        path = self.paths[i]
        self.assertEqual(list(answer.keys()), [t["label"] for t in self.predicted[path]], path)
        # Same numbers as predict up to float rounding: batches of other sizes may sum in
        # another order.
        for got, want in zip(answer.values(), [t["score"] for t in self.predicted[path]]):
            self.assertAlmostEqual(got, want, delta=1e-6, msg=path)
        ref_p, ref_i = self.probs[i].topk(NUM_CLASSES)
        self.assertEqual(list(answer.keys()), [LABELS[k] for k in ref_i.tolist()], path)
        for got, want in zip(answer.values(), ref_p.tolist()):
            self.assertAlmostEqual(got, want, delta=1e-5)

    def test_torchserve_api_with_curl_and_batching(self):
        s = self.start("--max-batch-size", "16", "--max-queue-delay-us", "300000",
                       "--read-timeout-s", "1")
        status, body = curl(s.url + "/ping")
        self.assertEqual((status, json.loads(body)), (200, {"status": "Healthy"}))
        # As TorchServe's README: curl http://127.0.0.1:8080/predictions/resnet-18 -T kitten.jpg
        status, body = curl(s.url + "/predictions/r18", "-T", self.paths[0])
        self.assertEqual(status, 200, body)
        self.check_torchserve_answer(json.loads(body), 0)
        status, body = curl("-X", "POST", s.url + "/predictions/r18", "--data-binary",
                            "@" + self.paths[1])
        self.assertEqual(status, 200, body)
        self.check_torchserve_answer(json.loads(body), 1)
        status, body = curl(s.url + "/predictions/r18", "-F", "data=@" + self.paths[2])
        self.assertEqual(status, 200, body)
        self.check_torchserve_answer(json.loads(body), 2)

        # 16 concurrent requests: fewer than 16 model calls, each answer for its own image.
        calls_before = s.metric("ptinfer_model_calls_total", model="r18")
        answers = [None] * 16

        def ask(i):
            answers[i] = curl(s.url + "/predictions/r18", "-T", self.paths[i])

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for i, (status, body) in enumerate(answers):
            self.assertEqual(status, 200, body)
            self.check_torchserve_answer(json.loads(body), i)
        calls = s.metric("ptinfer_model_calls_total", model="r18") - calls_before
        self.assertGreaterEqual(calls, 1)
        self.assertLess(calls, 16)
        self.assertEqual(s.metric("ptinfer_requests_total", model="r18", status="200"), 19)
        metrics = requests.get(s.url + "/metrics", timeout=30).text
        for family in ["ptinfer_batch_size_bucket", "ptinfer_queue_duration_seconds_bucket",
                       "ptinfer_compute_duration_seconds_bucket",
                       "ptinfer_request_duration_seconds_bucket", "ptinfer_queue_depth"]:
            self.assertIn(family + "{model=\"r18\"", metrics)

        # Bad requests: status and reason.
        status, body = curl(s.url + "/predictions/nope", "-T", self.paths[0])
        self.assertEqual(status, 404)
        self.assertIn("model 'nope' not found", json.loads(body)["message"])
        status, body = curl(s.url + "/predictions/r18")  # GET
        self.assertEqual(status, 405)
        self.assertIn("not allowed", json.loads(body)["message"])
        status, body = curl("-X", "POST", s.url + "/ping")
        self.assertEqual(status, 405)
        garbage = os.path.join(self.tmp, "garbage.jpg")
        with open(garbage, "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 this is not a jpeg at all")
        status, body = curl(s.url + "/predictions/r18", "-T", garbage)
        self.assertEqual(status, 400, body)
        self.assertIn("request body", json.loads(body)["message"])
        status, body = curl(s.url + "/predictions/r18", "--data-binary", "")
        self.assertEqual(status, 400, body)
        self.assertIn("empty", json.loads(body)["message"])
        status, body = curl("-X", "POST", s.url + "/predictions/r18")  # no Content-Length
        self.assertEqual(status, 400, body)
        self.assertIn("Content-Length", json.loads(body)["message"])

        # A slow client is disconnected after the read timeout; others are still served.
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        slow.sendall(b"POST /predictions/r18 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
        status, body = curl(s.url + "/predictions/r18", "-T", self.paths[3])
        self.assertEqual(status, 200, body)
        start = time.time()
        try:
            data = slow.recv(4096)
        except ConnectionResetError:
            data = b""
        self.assertLess(time.time() - start, 25)
        self.assertFalse(data.startswith(b"HTTP/1.1 200"), data)
        slow.close()

    def test_kserve_v2_with_requests(self):
        s = self.start("--max-batch-size", "4", "--max-queue-delay-us", "1000")
        self.assertEqual(requests.get(s.url + "/v2/health/live", timeout=30).status_code, 200)
        self.assertEqual(requests.get(s.url + "/v2/health/ready", timeout=30).status_code, 200)
        self.assertIn("classification", requests.get(s.url + "/v2", timeout=30).json()["extensions"])
        meta = requests.get(s.url + "/v2/models/r18", timeout=30).json()
        self.assertEqual(meta["inputs"][0]["shape"], [-1, 3, SIZE, SIZE])
        self.assertEqual(meta["outputs"][0]["shape"], [-1, NUM_CLASSES])
        self.assertEqual(requests.get(s.url + "/v2/models/r18/ready", timeout=30).status_code, 200)
        self.assertEqual(requests.get(s.url + "/v2/models/x/ready", timeout=30).status_code, 404)

        # FP32, already preprocessed, nested as tolist() writes it.
        x = self.inputs[:3]
        r = requests.post(s.url + "/v2/models/r18/infer", timeout=60, json={
            "id": "42", "inputs": [{"name": "input__0", "shape": list(x.shape), "datatype": "FP32",
                                    "data": x.tolist()}]})
        self.assertEqual(r.status_code, 200, r.text)
        out = r.json()
        self.assertEqual(out["id"], "42")
        self.assertEqual(out["outputs"][0]["shape"], [3, NUM_CLASSES])
        got = torch.tensor(out["outputs"][0]["data"]).reshape(3, NUM_CLASSES)
        self.assertTrue(torch.allclose(got, self.logits[:3], atol=1e-4), (got, self.logits[:3]))

        # BYTES: base64 encoded image files, with the classification extension.
        encoded = [base64.b64encode(open(p, "rb").read()).decode() for p in self.paths[4:6]]
        r = requests.post(s.url + "/v2/models/r18/infer", timeout=60, json={
            "inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "data": encoded}],
            "outputs": [{"name": "output__0", "parameters": {"classification": 2}}]})
        self.assertEqual(r.status_code, 200, r.text)
        data = r.json()["outputs"][0]["data"]
        self.assertEqual(r.json()["outputs"][0]["shape"], [2, 2])
        for row in range(2):
            i = 4 + row
            ref_v, ref_i = self.logits[i].topk(2)
            for k in range(2):
                value, index, label = data[row * 2 + k].split(":")
                self.assertEqual(int(index), ref_i[k].item())
                self.assertEqual(label, LABELS[ref_i[k].item()])
                self.assertAlmostEqual(float(value), ref_v[k].item(), delta=1e-4)

        # Errors as {"error": "..."}.
        for body, status, reason in [
                ("{not json", 400, "not valid JSON"),
                (json.dumps({"inputs": [{"name": "x", "shape": [1, 3, 2, 2], "datatype": "FP32",
                                         "data": [1, 2]}]}), 400, "needs 12 values"),
                (json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES",
                                         "data": ["@@@"]}]}), 400, "base64"),
                (json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES",
                                         "data": [base64.b64encode(b"GIF89a....").decode()]}]}),
                 400, "inputs[0].data[0]")]:
            r = requests.post(s.url + "/v2/models/r18/infer", data=body, timeout=60)
            self.assertEqual(r.status_code, status, r.text)
            self.assertIn(reason, r.json()["error"])
        r = requests.post(s.url + "/v2/models/none/infer", data="{}", timeout=60)
        self.assertEqual(r.status_code, 404)
        self.assertIn("not found", r.json()["error"])
        r = requests.get(s.url + "/v2/models/r18/infer", timeout=60)
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.headers["Allow"], "POST")

    def test_full_queue_and_oversized_body(self):
        # The batch waits up to 1.5 s to fill 8 but the queue holds 2: the rest get 503 at once.
        s = self.start("--max-batch-size", "8", "--max-queue-delay-us", "1500000",
                       "--queue-size", "2", "--max-body-bytes", "4000000")
        results = [None] * 6

        def ask(i):
            results[i] = requests.post(s.url + "/predictions/r18", timeout=60,
                                       data=open(self.paths[i], "rb").read())

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        codes = sorted(r.status_code for r in results)
        self.assertEqual(codes.count(200), 2, codes)
        self.assertEqual(codes.count(503), 4, codes)
        for i, r in enumerate(results):
            if r.status_code == 200:
                self.check_torchserve_answer(r.json(), i)
            else:
                self.assertEqual(r.headers["Retry-After"], "1")
                self.assertIn("queue full", r.json()["message"])
        big = os.path.join(self.tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(b"\xff\xd8" + b"\0" * 5000000)
        status, body = curl(s.url + "/predictions/r18", "-T", big)
        self.assertEqual(status, 413, body)

    def test_request_timeout(self):
        s = self.start("--max-batch-size", "8", "--max-queue-delay-us", "3000000",
                       "--request-timeout-ms", "200")
        r = requests.post(s.url + "/predictions/r18", data=open(self.paths[0], "rb").read(),
                          timeout=60)
        self.assertEqual(r.status_code, 503, r.text)
        self.assertIn("no answer within 200 ms", r.json()["message"])

    def test_sigterm_answers_accepted_requests(self):
        # The batch waits up to 5 s for 16 requests: the 8 sent are all queued when SIGTERM comes.
        s = self.start("--max-batch-size", "16", "--max-queue-delay-us", "5000000")
        results = [None] * 8

        def ask(i):
            results[i] = requests.post(s.url + "/predictions/r18", timeout=60,
                                       data=open(self.paths[i], "rb").read())

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while s.metric("ptinfer_queue_depth", model="r18") < 8 and time.time() < deadline:
            time.sleep(0.02)
        self.assertEqual(s.metric("ptinfer_queue_depth", model="r18"), 8)
        s.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(s.proc.wait(timeout=60), 0)
        for i, r in enumerate(results):
            self.assertEqual(r.status_code, 200, r.text)
            self.check_torchserve_answer(r.json(), i)
        with self.assertRaises(requests.exceptions.ConnectionError):
            requests.get(s.url + "/ping", timeout=5)


if __name__ == "__main__":
    unittest.main()
