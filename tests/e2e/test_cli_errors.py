"""Bad input gets a clear error naming what was wrong, a non-zero exit, and loses nothing:
unknown flags, environment values, architectures, devices, checkpoints and images."""
import glob
import os
import pickle
import shutil
import unittest
import zipfile

import torch

import common

SMALL = ["--resize-size", "32", "--crop-size", "32", "-b", "4"]


class CliErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_errors_")
        cls.data = common.make_image_folder(os.path.join(cls.tmp, "data"), ["a", "b", "c"], 3)
        cls.ckpt = common.make_guide_checkpoint(os.path.join(cls.tmp, "ok.pth.tar"), "resnet18", 3)

    def validate(self, data=None, ckpt=None, extra=(), env=None, arch="resnet18"):
        args = ["validate", "--data", data or self.data, "-a", arch,
                "--resume", ckpt or self.ckpt] + SMALL + list(extra)
        return common.run_ptinfer(args, env=env, check=False)

    def assert_fails(self, proc, *needles, code=None):
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        if code is not None:
            self.assertEqual(proc.returncode, code, proc.stderr)
        for n in needles:
            self.assertIn(n, proc.stdout + proc.stderr)

    def bad_data_folder(self, name, content):
        root = os.path.join(self.tmp, name)
        shutil.copytree(self.data, root)
        path = os.path.join(root, "b", "bad.jpg")
        with open(path, "wb") as f:
            f.write(content)
        return root, path

    def test_baseline_runs(self):
        proc = self.validate()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(" * Acc@1", proc.stdout)

    def test_unknown_flag_is_reported_as_the_sample_does(self):
        proc = self.validate(extra=["--bogus", "3"])
        self.assert_fails(proc, "ERROR: Unknown command line arg: --bogus")

    def test_unknown_subcommand_and_missing_data(self):
        self.assert_fails(common.run_ptinfer(["frobnicate"], check=False), code=2)
        self.assert_fails(common.run_ptinfer(["validate"], check=False), "--data", code=2)

    def test_invalid_environment_values_exit_2_naming_variable(self):
        for var, value in [("PTINFER_LOG_LEVEL", "9"), ("ASCEND_GLOBAL_LOG_LEVEL", "x"),
                           ("TASK_QUEUE_ENABLE", "2"), ("PTINFER_DEVICE_ID", "-3"),
                           ("PTINFER_NUM_THREADS", "0"), ("ASCEND_SLOG_PRINT_TO_STDOUT", "yes")]:
            proc = self.validate(env={var: value})
            self.assert_fails(proc, "%s='%s'" % (var, value), code=2)

    def test_invalid_fast_path_variables_exit_2_naming_variable(self):
        for var, value in [("PTINFER_FAST_PATH_KERNELS", "mkl"),
                           ("PTINFER_FAST_PATH_WINOGRAD", "yes"),
                           ("PTINFER_FAST_PATH_MAX_BATCH", "-1"),
                           ("PTINFER_FAST_PATH_MAX_BATCH", "8x")]:
            proc = self.validate(env={var: value})
            self.assert_fails(proc, var, "got '%s'" % value, code=2)

    def test_bad_thread_count_and_checkpoint_key(self):
        self.assert_fails(self.validate(extra=["--threads", "0"]), "--threads must be >= 1",
                          code=2)
        proc = self.validate(extra=["--checkpoint-key", "weights"])
        self.assert_fails(proc, "weights", "state_dict")
        ok = self.validate(extra=["--checkpoint-key", "state_dict", "--threads", "1"])
        self.assertEqual(ok.returncode, 0, ok.stderr)

    def test_invalid_preprocessing_flags_exit_2_naming_the_flag(self):
        for extra, message in [(["--interpolation", "nearest"],
                                "--interpolation must be bilinear or bicubic, got 'nearest'"),
                               (["--resize-size", "-1"], "--resize-size must be >= 0"),
                               (["--crop-size", "0"], "--crop-size must be >= 1")]:
            self.assert_fails(self.validate(extra=extra), message, code=2)
        for command in (["predict", "-a", "resnet18", "--resume", self.ckpt, "x.jpg"],
                        ["serve", "--port", "0", "--model", "m=%s,arch=resnet18" % self.ckpt]):
            proc = common.run_ptinfer(command + ["--interpolation", "lanczos"], check=False)
            self.assert_fails(proc, "--interpolation must be bilinear or bicubic, got 'lanczos'",
                              code=2)

    def test_invalid_preprocessing_base_exits_2_naming_the_flag(self):
        message = "--preprocessing must be guide or model, got 'preset'"
        self.assert_fails(self.validate(extra=["--preprocessing", "preset"]), message, code=2)
        for command in (["predict", "-a", "resnet18", "--resume", self.ckpt, "x.jpg"],
                        ["serve", "--port", "0", "--model", "m=%s,arch=resnet18" % self.ckpt],
                        ["finetune", "--data", self.data, "-a", "resnet18", "--resume",
                         self.ckpt]):
            proc = common.run_ptinfer(command + ["--preprocessing", "preset"], check=False)
            self.assert_fails(proc, message, code=2)
        # A TorchScript archive declares no preset; the flag is named before anything loads.
        proc = common.run_ptinfer(["validate", "--data", self.data, "-a", "torchscript",
                                   "--resume", os.path.join(self.tmp, "absent.pt"),
                                   "--preprocessing", "model"], check=False)
        self.assert_fails(proc, "--preprocessing model: --arch torchscript has no preset",
                          code=2)
        self.assertNotIn("absent.pt", proc.stderr)

    def test_unknown_arch_lists_known_ones(self):
        proc = self.validate(arch="resnet19")
        self.assert_fails(proc, "resnet19", "resnet18", "wide_resnet101_2")

    def test_missing_device_lists_available_ones(self):
        self.assert_fails(self.validate(extra=["--device", "cuda:1"]), "available devices: cpu")
        self.assert_fails(self.validate(extra=["--npu", "0"]), "--npu 0", "available devices: cpu")
        self.assert_fails(self.validate(extra=["--device", "tpu"]), "--device 'tpu'", code=2)

    def test_missing_and_truncated_checkpoints(self):
        missing = os.path.join(self.tmp, "nope.pth")
        self.assert_fails(self.validate(ckpt=missing), missing)
        truncated = os.path.join(self.tmp, "truncated.pth")
        with open(self.ckpt, "rb") as f:
            data = f.read()
        with open(truncated, "wb") as f:
            f.write(data[: len(data) // 2])
        self.assert_fails(self.validate(ckpt=truncated), truncated)
        empty = os.path.join(self.tmp, "empty.pth")
        open(empty, "wb").close()
        self.assert_fails(self.validate(ckpt=empty), empty)

    def test_mismatched_checkpoint_lists_all_keys_at_fault(self):
        proc = self.validate(arch="resnet34")
        self.assert_fails(proc, "missing keys", "layer1.2.conv1.weight")

    def test_pickle_naming_os_system_is_refused_without_running_it(self):
        marker = os.path.join(self.tmp, "pwned")

        class Evil:
            def __reduce__(self):
                return (os.system, ("touch " + marker,))

        path = os.path.join(self.tmp, "evil.pth")
        torch.save({"state_dict": {}, "payload": Evil()}, path)
        proc = self.validate(ckpt=path)
        self.assert_fails(proc, "system")
        self.assertFalse(os.path.exists(marker))

    def test_corrupt_truncated_and_empty_images_stop_the_run_naming_the_file(self):
        with open(glob.glob(os.path.join(self.data, "a", "*.jpg"))[0], "rb") as f:
            jpeg = f.read()
        for name, content in [("corrupt", os.urandom(2000)), ("truncated", jpeg[: len(jpeg) // 2]),
                              ("empty", b"")]:
            root, path = self.bad_data_folder(name, content)
            self.assert_fails(self.validate(data=root), path)

    def test_skip_bad_images_reports_each_and_counts(self):
        root, path = self.bad_data_folder("skip", b"not an image")
        proc = self.validate(data=root, extra=["--skip-bad-images", "--json", root + ".json"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("skipped bad image " + path, proc.stdout)
        self.assertIn("1 skipped", proc.stdout)
        import json
        with open(root + ".json") as f:
            s = json.load(f)["summary"]
        self.assertEqual(s["skipped_count"], 1)
        self.assertEqual(s["images"], 9)

    def test_empty_class_folder_is_an_error_naming_it(self):
        root = os.path.join(self.tmp, "emptyclass")
        shutil.copytree(self.data, root)
        os.makedirs(os.path.join(root, "d"))
        with open(os.path.join(root, "d", "notes.txt"), "w") as f:
            f.write("no image here")
        self.assert_fails(self.validate(data=root), "Found no valid file for the classes d")

    def test_pretrained_weights_missing_says_where_to_put_them(self):
        home = os.path.join(self.tmp, "torch_home")
        proc = common.run_ptinfer(["validate", "--data", self.data, "-a", "resnet50",
                                   "--pretrained"] + SMALL, env={"TORCH_HOME": home}, check=False)
        self.assert_fails(proc, os.path.join(home, "hub", "checkpoints"))

    def test_logs_go_to_a_file_and_to_stdout_when_asked(self):
        logdir = os.path.join(self.tmp, "logs")
        proc = self.validate(env={"PTINFER_LOG_DIR": logdir, "ASCEND_SLOG_PRINT_TO_STDOUT": "1",
                                  "ASCEND_GLOBAL_LOG_LEVEL": "0"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        logs = glob.glob(os.path.join(logdir, "ptinfer-*.log"))
        self.assertEqual(len(logs), 1)
        with open(logs[0]) as f:
            text = f.read()
        self.assertIn("intra-op threads", text)
        self.assertIn("intra-op threads", proc.stdout)
        quiet = self.validate(env={"PTINFER_LOG_DIR": logdir + "2", "PTINFER_LOG_LEVEL": "3"})
        self.assertNotIn("intra-op threads", quiet.stdout)


if __name__ == "__main__":
    unittest.main()
