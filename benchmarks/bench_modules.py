"""Forward time of modules netspec builds against the hand-written torch equivalents.

For ResNet-18 and VGG16 the equivalent is torchvision's model; for the VQA question
encoder (QstEncoder) and the bidirectional-LSTM classifier it is the model as a person
writes it in torch. Both modules of a pair get the same weights (the built model loads
the reference's state_dict where the names agree, else tensors are copied in order) and
must give the same output. They are then timed with torch.utils.benchmark, interleaved
(built, reference, reference, built, ...) over several rounds; the figure is the median
of the per-round ratios. Target (issue #6, item 4): within 3%.

Under each model a `work` line says what one forward pass of each does, free of timing
noise: the aten ops dispatched (compared in order, with their input shapes) and the module
calls made. tests/test_same_work.py asserts that they agree.

Run: python benchmarks/bench_modules.py [--rounds N] [--threads T] [--clock wall|cpu]
       [--device cpu|cuda] [--models ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _harness import ROOT, load, machine, versions

sys.path.insert(0, ROOT)


def _torch():
    import torch
    from torch import nn

    return torch, nn


# -- the hand-written equivalents -------------------------------------------------------------------

def qst_encoder():
    """The VQA question encoder as tbmoon/basic_vqa writes it."""
    torch, nn = _torch()

    class QstEncoder(nn.Module):
        def __init__(self, qst_vocab_size=10000, word_embed_size=300, embed_size=1024, num_layers=2,
                     hidden_size=512):
            super().__init__()
            self.word2vec = nn.Embedding(qst_vocab_size, word_embed_size)
            self.tanh = nn.Tanh()
            self.lstm = nn.LSTM(word_embed_size, hidden_size, num_layers)
            self.fc = nn.Linear(2 * num_layers * hidden_size, embed_size)

        def forward(self, question):
            qst_vec = self.word2vec(question)
            qst_vec = self.tanh(qst_vec)
            qst_vec = qst_vec.transpose(0, 1)
            _, (hidden, cell) = self.lstm(qst_vec)
            qst_feature = torch.cat((hidden, cell), 2)
            qst_feature = qst_feature.transpose(0, 1)
            qst_feature = qst_feature.reshape(qst_feature.size()[0], -1)
            qst_feature = self.tanh(qst_feature)
            return self.fc(qst_feature)

    return QstEncoder()


def bilstm_classifier():
    torch, nn = _torch()

    class BiLSTMClassifier(nn.Module):
        def __init__(self, features=40, hidden=256, layers=2, classes=12):
            super().__init__()
            self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True, bidirectional=True)
            self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Dropout(0.2),
                                      nn.Linear(hidden, classes))

        def forward(self, frames):
            out, _ = self.lstm(frames)
            return self.head(out[:, -1])

    return BiLSTMClassifier()


def resnet18():
    import torchvision

    return torchvision.models.resnet18()


def vgg16():
    import torchvision

    return torchvision.models.vgg16()


# name -> (spec, reference factory, input factory)
MODELS = {
    "ResNet-18": ("specs/resnet18.net", resnet18, lambda t, b: t.randn(b, 3, 224, 224)),
    "VGG16": ("specs/vgg16.net", vgg16, lambda t, b: t.randn(b, 3, 224, 224)),
    "QstEncoder": ("specs/qstencoder.net", qst_encoder, lambda t, b: t.randint(0, 10000, (b, 30))),
    "BiLSTM": ("specs/bilstm.net", bilstm_classifier, lambda t, b: t.randn(b, 100, 40)),
}


def dispatched(module, x) -> tuple[list[tuple[str, tuple]], int]:
    """The aten ops one forward pass dispatches (name and input shapes, in order) and how
    many module calls it makes (nn.Sequential containers aside, which torchvision's models
    use as netspec's do): the work a module does, free of timing noise."""
    torch, _ = _torch()
    from torch.nn.modules.module import register_module_forward_pre_hook
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    ops: list[tuple[str, tuple]] = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            shapes = tuple(tuple(a.shape) for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor))
            ops.append((str(func.overloadpacket), shapes))
            return func(*args, **(kwargs or {}))

    calls = [0]

    def count(module, inputs):
        if type(module) is not torch.nn.Sequential:  # a container dispatches nothing itself
            calls[0] += 1

    hook = register_module_forward_pre_hook(count)
    try:
        with torch.inference_mode(), Record():
            module(x)
    finally:
        hook.remove()
    return ops, calls[0]


def op_differences(built_ops, reference_ops) -> list[str]:
    """Where two op sequences differ, as text; an out-of-place op where the other runs the
    in-place form on the same shapes (add against add_) is listed as such."""
    import difflib

    out = []
    matcher = difflib.SequenceMatcher(a=reference_ops, b=built_ops, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        ref, mine = reference_ops[i1:i2], built_ops[j1:j2]
        if tag == "replace" and len(ref) == len(mine) and all(
                a[1] == b[1] and a[0].rstrip("_") == b[0].rstrip("_") for a, b in zip(ref, mine)):
            out.extend(f"{b[0]} where the reference runs {a[0]} {a[1]}" for a, b in zip(ref, mine))
        else:
            out.append(f"{tag}: reference {ref} / built {mine}")
    return out


def same_weights(built, reference) -> str:
    """Give ``built`` the reference's weights: by name where the names agree, else in order."""
    torch, _ = _torch()
    ref = reference.state_dict()
    mine = built.state_dict()
    if ref.keys() == mine.keys():
        built.load_state_dict(ref)
        return "state_dict loaded by name"
    if len(ref) != len(mine) or any(a.shape != b.shape for a, b in zip(ref.values(), mine.values())):
        raise SystemExit(f"the built module's tensors do not match the reference's:\n{list(mine)}\n{list(ref)}")
    with torch.no_grad():
        for a, b in zip(mine.values(), ref.values()):
            a.copy_(b)
    return "tensors copied in order"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per model (default 7)")
    ap.add_argument("--min-run-time", type=float, default=1.0, help="seconds per measurement (default 1)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=0, help="batch size (default: 8 on CPU, 64 on CUDA)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time measured: wall, or the process's CPU time (steadier on a shared machine, "
                         "but a sum over threads: use with --threads 1)")
    args = ap.parse_args()

    torch, _ = _torch()
    import torch.utils.benchmark as benchmark

    from netspec import api

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch = args.batch or (64 if device.type == "cuda" else 8)
    print(machine())
    print(versions("netspec", "torch", "torchvision"))
    print(f"device {device}, {torch.get_num_threads()} threads, batch {batch}, eval mode, inference_mode; "
          f"{args.rounds} interleaved rounds of {args.min_run_time} s of {args.clock} time; {load()}\n")
    print(f"{'model':<12}{'built':>12}{'reference':>12}{'ratio':>9}{'ratio range':>18}   weights")
    worst = 0.0
    for name in args.models.split(","):
        spec, make_reference, make_input = MODELS[name]
        torch.manual_seed(0)
        reference = make_reference().eval().to(device)
        built = api.module(f"{ROOT}/{spec}").eval().to(device)
        how = same_weights(built, reference)
        x = make_input(torch, batch).to(device)
        with torch.inference_mode():
            a, b = built(x), reference(x)
            if not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
                raise SystemExit(f"{name}: the built module and the reference disagree "
                                 f"(max difference {(a - b).abs().max().item():.3g})")
        clock = {"timer": time.process_time} if args.clock == "cpu" else {}
        timers = {
            "built": benchmark.Timer("m(x)", globals={"m": built, "x": x}, label=name, sub_label="built",
                                     num_threads=torch.get_num_threads(), **clock),
            "reference": benchmark.Timer("m(x)", globals={"m": reference, "x": x}, label=name,
                                         sub_label="reference", num_threads=torch.get_num_threads(), **clock),
        }
        medians: dict[str, list[float]] = {"built": [], "reference": []}
        ratios = []
        with torch.inference_mode():
            for i in range(args.rounds):
                order = ["built", "reference"] if i % 2 == 0 else ["reference", "built"]
                for which in order:
                    m = timers[which].blocked_autorange(min_run_time=args.min_run_time)
                    medians[which].append(m.median)
                ratios.append(medians["built"][-1] / medians["reference"][-1])
        ratio = statistics.median(ratios)
        worst = max(worst, abs(ratio - 1))
        print(f"{name:<12}{statistics.median(medians['built']) * 1e3:>9.2f} ms"
              f"{statistics.median(medians['reference']) * 1e3:>9.2f} ms{ratio:>9.3f}"
              f"{f'{min(ratios):.3f}-{max(ratios):.3f}':>18}   {how}", flush=True)
        (ops, calls), (ref_ops, ref_calls) = dispatched(built, x), dispatched(reference, x)
        diffs = op_differences(ops, ref_ops)
        same = "the same aten ops" if not diffs else f"the same aten ops but {len(diffs)}: " + "; ".join(
            sorted(set(d.split(" (")[0] for d in diffs)))
        print(f"{'':<12}work: {len(ops)} vs {len(ref_ops)} aten ops, {same}; {calls} vs {ref_calls} module calls",
              flush=True)
    print(f"\nlargest difference {worst * 100:.1f}% (target within 3%: {'met' if worst <= 0.03 else 'NOT met'})")
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
