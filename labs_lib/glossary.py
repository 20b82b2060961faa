"""The course's bilingual glossary: every term the notebooks gloss in Chinese, with a one-line definition.

    labs glossary               # print GLOSSARY.md as the notebooks and the data below give it
    labs glossary --write       # write it to GLOSSARY.md at the repository root
    labs glossary --check       # exit 1 when GLOSSARY.md is out of date (or a glossed term has no entry)

**What counts as a gloss.** A pair of parentheses, ASCII ``( )`` or full-width ``（ ）``, with no parentheses
inside and no blank line, whose text contains Chinese characters (CJK ideographs), in any cell of a notebook
(markdown mostly; code comments too). The text is split at commas, semicolons, colons and the enumeration comma
``、``; every part that contains Chinese is one glossed term, with emphasis marks (``*``, ``_``, backticks) dropped
and spaces collapsed. So ``**loss** (损失函数)``, ``(均方误差, MSE)``, ``(**bias correction**, 偏差修正)``,
``(感知机, Rosenblatt, 1958)`` and ``(批归一化; Ioffe and Szegedy, 2015)`` gloss 损失函数, 均方误差, 偏差修正, 感知机
and 批归一化, and ``(准确率、精确率、召回率、F1)`` glosses three terms. Parentheses without Chinese
(``分词 (tokenization)`` in a code string) are not glosses.

**The data.** :data:`TERMS` holds, for every glossed Chinese term, the English term as the course writes it and a
definition; the lesson that introduces a term is not stored but computed from the notebooks (the first lesson,
in file order, that glosses it), so it cannot go stale. ``tests/test_glossary.py`` keeps the two in step: every
gloss has an entry, every entry is glossed somewhere, GLOSSARY.md is what :func:`markdown` writes.

**Decisions** (a term's ``note`` says which applied). Where the course uses one Chinese term for English words
that mean the same thing ("units saturate", "the softmax saturates", "saturation"), there is one entry, named by
the noun. Where one English term is glossed two ways (cell state: 细胞状态/记忆元), the entry keeps both as the
course writes them. Near neighbours with their own English and Chinese (occlusion and occlusion map, global batch
and global batch size, residual connection and shortcut) keep an entry each.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the course's folder when installed from a clone (editable)
NOTEBOOKS = ROOT / "notebooks"
GLOSSARY_FILE = ROOT / "GLOSSARY.md"

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs: extension A, unified, compatibility
HAS_CJK = re.compile(f"[{CJK}]")
PARENS = re.compile(r"[(（]([^()（）]*)[)）]")  # innermost parentheses, ASCII or full-width
SEPARATORS = re.compile(r"[,;:，；：、]")
_EMPHASIS = re.compile(r"[*_`]+")
_MARKED = re.compile(r"(\*\*[^*]+\*\*|\*[^*\s][^*]*\*|`[^`]+`)\s*$")  # **term**, *term* or `term` at the end
_ENGLISH_AFTER = re.compile(r"[a-z][a-z -]*")  # '(梯度消失, vanishing gradients)': lowercase words only


@dataclass(frozen=True)
class Term:
    english: str  # as the course writes it (lower case unless a name or an abbreviation)
    chinese: str  # exactly as the notebooks gloss it
    definition: str  # one line: what the thing is
    note: str = ""  # a decision about this entry (merged senses, two spellings), for whoever edits it


@dataclass(frozen=True)
class Gloss:
    chinese: str  # the glossed term
    english: str  # the English term it glosses, as found beside it (a best-effort reading, for messages)
    lesson: str  # the notebook's stem, e.g. "03_backpropagation"
    cell: int  # index of the cell in the notebook
    context: str  # the text before the gloss and the gloss itself, on one line


@dataclass(frozen=True)
class Entry:
    term: Term
    lesson: str | None  # the first lesson (notebook stem) that glosses the term; None when none does


def _clean(text: str) -> str:
    return " ".join(_EMPHASIS.sub("", text).split())


def _english_beside(source: str, start: int, before: list[str], after: list[str]) -> str:
    """The English that a gloss at ``source[start]`` translates: the part before the Chinese inside the
    parentheses ('(**bias correction**, 偏差修正)'), else a lowercase phrase right after it ('(梯度消失, vanishing
    gradients)'), else the emphasised term just before the parenthesis ('**loss** (损失函数)'), else the last
    three words before it."""
    if before and before[-1].strip():
        return _clean(before[-1])
    if after and _ENGLISH_AFTER.fullmatch(" ".join(after[0].split())):
        return _clean(after[0])
    head = source[:start].rstrip()
    marked = _MARKED.search(head)
    if marked:
        return _clean(marked.group(1))
    words = [w for w in head.split() if any(ch.isalpha() for ch in w)]
    return _clean(" ".join(words[-3:]))


def _notebooks(notebooks_dir: Path | str) -> list[Path]:
    paths = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks in {notebooks_dir}: pass the course's notebooks/ folder")
    return paths


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def glosses_in(source: str, lesson: str = "", cell: int = 0) -> list[Gloss]:
    """Every gloss in one cell's text, in order (see the module's docstring for what counts)."""
    found = []
    for match in PARENS.finditer(source):
        body = match.group(1)
        if "\n\n" in body or not HAS_CJK.search(body):
            continue
        parts = SEPARATORS.split(body)
        context = " ".join(source[max(0, match.start() - 60):match.end()].split())
        for i, part in enumerate(parts):
            if HAS_CJK.search(part):
                english = _english_beside(source, match.start(), [p for p in parts[:i] if not HAS_CJK.search(p)],
                                          parts[i + 1:])
                found.append(Gloss(_clean(part), english, lesson, cell, context))
    return found


def find_glosses(notebooks_dir: Path | str = NOTEBOOKS) -> list[Gloss]:
    """Every inline gloss in the notebooks, in file and cell order, with its lesson, cell and English term."""
    found = []
    for path in _notebooks(notebooks_dir):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            found.extend(glosses_in(_source(cell), path.stem, index))
    return found


def first_lessons(notebooks_dir: Path | str = NOTEBOOKS) -> dict[str, str]:
    """Each glossed Chinese term and the first lesson (by file order) that glosses it."""
    first: dict[str, str] = {}
    for gloss in find_glosses(notebooks_dir):
        first.setdefault(gloss.chinese, gloss.lesson)
    return first


def entries(notebooks_dir: Path | str = NOTEBOOKS) -> list[Entry]:
    """The glossary's rows, sorted by English term (case- and accent-insensitive), each with its lesson."""
    first = first_lessons(notebooks_dir)
    return sorted((Entry(term, first.get(term.chinese)) for term in TERMS), key=lambda e: sort_key(e.term.english))


def sort_key(english: str) -> tuple[str, str]:
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", english) if not unicodedata.combining(ch))
    return plain.casefold(), english


def missing(notebooks_dir: Path | str = NOTEBOOKS) -> list[Gloss]:
    """The first gloss of every Chinese term that has no entry in :data:`TERMS`."""
    known = {term.chinese for term in TERMS}
    seen: set[str] = set()
    out = []
    for gloss in find_glosses(notebooks_dir):
        if gloss.chinese not in known and gloss.chinese not in seen:
            seen.add(gloss.chinese)
            out.append(gloss)
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def lesson_title(path: Path) -> str:
    """'04 Training a network with Keras': the lesson's number and the notebook's H1 title (else its file name)."""
    number, _, rest = path.stem.partition("_")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = _source(cells[0]).splitlines() if cells else []
    title = first[0][2:].strip() if first and first[0].startswith("# ") else rest.replace("_", " ")
    return f"{number} {title}"


def markdown(notebooks_dir: Path | str = NOTEBOOKS) -> str:
    """GLOSSARY.md: a table of English, 中文, definition and lesson, sorted by English term."""
    rows = entries(notebooks_dir)
    titles = {path.stem: lesson_title(path) for path in _notebooks(notebooks_dir)}
    lines = [
        "# Glossary",
        "",
        "<!-- generated by `labs glossary --write` from labs_lib/glossary.py and the notebooks; do not edit -->",
        "",
        "The lessons gloss their key terms in Chinese where they introduce them, as in **loss function** (损失函数).",
        f"This page lists all {len(rows)} of them: the English term the course uses, the Chinese, what the term",
        "means, and the lesson that introduces it (the first lesson that glosses it).",
        "",
        "| English | 中文 | definition | lesson |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lesson = f"[{_cell(titles[row.lesson])}](notebooks/{row.lesson}.ipynb)" if row.lesson else ""
        lines.append(f"| {_cell(row.term.english)} | {_cell(row.term.chinese)} | {_cell(row.term.definition)} "
                     f"| {lesson} |")
    return "\n".join(lines) + "\n"


def glossary_command(args: argparse.Namespace) -> int:
    notebooks, target = Path(args.notebooks), Path(args.file)
    try:
        text = markdown(notebooks)
        lacking = missing(notebooks)
    except FileNotFoundError as error:
        print(f"labs glossary: {error}", file=sys.stderr)
        return 2
    for gloss in lacking:
        print(f"labs glossary: {gloss.chinese} ({gloss.english}, lesson {gloss.lesson}, cell {gloss.cell}) is "
              f"glossed but has no entry: add it to TERMS in labs_lib/glossary.py", file=sys.stderr)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            print(f"{target} is out of date: run `labs glossary --write`", file=sys.stderr)
            return 1
        if lacking:
            return 1
        print(f"{target} is up to date ({len(TERMS)} terms)")
        return 0
    if args.write:
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target} ({len(TERMS)} terms)")
        return 1 if lacking else 0
    print(text, end="")
    return 0


def add_parser(commands) -> None:
    p = commands.add_parser("glossary", help="the bilingual glossary (GLOSSARY.md) from the notebooks' glosses")
    p.add_argument("--write", action="store_true", help="write it to GLOSSARY.md")
    p.add_argument("--check", action="store_true", help="exit 1 if GLOSSARY.md is out of date")
    p.add_argument("--file", default=str(GLOSSARY_FILE), help="the glossary file (default: GLOSSARY.md)")
    p.add_argument("--notebooks", default=str(NOTEBOOKS), help="the notebooks folder (default: notebooks/)")
    p.set_defaults(func=glossary_command)


_SAME = "one entry: the course uses this Chinese for {} (the same idea)"

TERMS: tuple[Term, ...] = (
    # 00 welcome and setup
    Term("neuron", "神经元",
         "A unit that computes a weighted sum of its inputs plus a bias and passes it through an activation function."),
    Term("device profile", "设备配置",
         "What `device.setup()` decides for a machine: its kind of devices, the distribution strategy, the precision "
         "policy and a batch size."),
    Term("handwritten digits", "手写数字",
         "Images of the digits 0 to 9 written by people, each labelled with its digit; recognising them is the "
         "classic first task of image classification."),
    Term("check", "检查",
         "A function that tests an exercise's answer at once and says what is wrong: the shape, the first wrong "
         "value, a likely slip."),
    Term("one-hot encoding", "独热编码",
         "Writing label k of K classes as a vector of K zeros with a 1 at position k.",
         note=_SAME.format("'one-hot vectors' (00, 04) and one-hot labels (03)")),
    # 01 the neuron
    Term("perceptron", "感知机",
         "Rosenblatt's 1958 neuron with a step activation, trained by adding misclassified inputs to its weights "
         "or subtracting them."),
    Term("artificial intelligence (AI)", "人工智能",
         "The field that builds machines for tasks that call for intelligence, such as seeing, speaking or planning."),
    Term("machine learning (ML)", "机器学习",
         "The part of AI in which a program learns its behaviour from data instead of following hand-written rules."),
    Term("deep learning", "深度学习",
         "Machine learning with neural networks of many layers, each learning features from the output of the one "
         "before."),
    Term("weight", "权重", "A learned number that multiplies one input of a neuron: how strongly that input counts."),
    Term("bias", "偏置",
         "A learned number added to a neuron's weighted sum, so that its output need not be zero when all inputs are.",
         note=_SAME.format("a neuron's bias (01) and a Dense layer's biases (12)")),
    Term("activation function", "激活函数",
         "The non-linear function (step, sigmoid, tanh, ReLU, ...) a neuron applies to its weighted sum."),
    Term("derivative", "导数",
         "The rate at which a function's output changes with its input: the slope of its graph at a point."),
    Term("decision boundary", "决策边界",
         "The set of inputs where a classifier's prediction changes from one class to another."),
    Term("learning rate", "学习率",
         "The step size of gradient descent: the number that multiplies the gradient in each update."),
    Term("linearly separable", "线性可分",
         "Said of two classes that a straight line (a hyperplane, in more dimensions) can split without error."),
    Term("XOR", "异或",
         "Exclusive or: true when exactly one of two inputs is; its two classes are not linearly separable."),
    Term("probability", "概率",
         "A number between 0 and 1 that says how likely an event is; a logistic neuron outputs the probability of "
         "the positive class."),
    Term("gradient descent", "梯度下降",
         "Minimising a function by repeatedly stepping its parameters against its gradient, scaled by the learning "
         "rate."),
    Term("binary cross-entropy", "二元交叉熵",
         "The loss -[y log p + (1 - y) log(1 - p)] of a predicted probability p for a label y that is 0 or 1."),
    # 02 loss and gradient descent
    Term("loss function", "损失函数",
         "A function that measures how far a model's predictions are from the targets; training minimises it.",
         note=_SAME.format("'loss' (02) and 'a loss function' (04)")),
    Term("mean squared error (MSE)", "均方误差",
         "The mean of the squared differences between predictions and targets, the usual loss for regression."),
    Term("cross-entropy", "交叉熵",
         "The loss -log p, where p is the probability a model gives the correct class, averaged over the examples."),
    Term("logit", "对数几率",
         "The input of a sigmoid or softmax; for a sigmoid, the log of the odds p / (1 - p)."),
    Term("divergence", "发散",
         "Gradient descent moving ever further from the minimum, its loss growing at every step, because the "
         "learning rate is too large."),
    Term("contour lines", "等高线", "Lines joining the points where a function of two variables takes the same value."),
    Term("ill-conditioned", "病态",
         "Said of a loss surface whose curvature differs greatly from one direction to another (a large condition "
         "number), so gradient descent zig-zags."),
    Term("saddle point", "鞍点",
         "A point where the gradient is zero but the function curves up in some directions and down in others."),
    Term("epoch", "轮", "One pass of training over the whole training set.",
         note=_SAME.format("'steps per epoch' (02) and 'epoch' (04)")),
    Term("stochastic gradient descent (SGD)", "随机梯度下降",
         "Gradient descent that estimates the gradient at each step from one example or a small random batch "
         "instead of the whole data set."),
    Term("mini-batch", "小批量", "A small random subset of the training examples from which one gradient step is computed."),
    Term("momentum", "动量",
         "An optimizer that steps along a running average of past gradients, which damps zig-zags and speeds up "
         "steady descent."),
    Term("bias correction", "偏差修正",
         "Adam's division of its running averages by 1 - beta^t, which undoes their pull toward zero in the first "
         "steps."),
    Term("learning-rate schedule", "学习率调度",
         "A rule that changes the learning rate during training, such as a warm-up followed by a decay."),
    # 03 backpropagation
    Term("backpropagation", "反向传播",
         "Computing the gradient of the loss with respect to every parameter by applying the chain rule backwards "
         "through the computational graph."),
    Term("chain rule", "链式法则",
         "The derivative of a composition is the product of the derivatives of its parts: df/dx = df/dq * dq/dx."),
    Term("computational graph", "计算图",
         "A graph whose nodes are operations and whose edges carry values between them, from the inputs to the "
         "output."),
    Term("automatic differentiation", "自动微分",
         "Computing exact derivatives of a program by applying the chain rule to its elementary operations, as "
         "`tf.GradientTape` does."),
    Term("forward pass", "前向传播",
         "Computing a graph's output from its inputs, node by node, keeping the values the backward pass needs."),
    Term("local gradient", "局部梯度", "The derivative of one node's output with respect to one of its inputs."),
    Term("upstream gradient", "上游梯度",
         "The gradient of the final output with respect to a node's output, which reaches the node from later in "
         "the graph during the backward pass."),
    Term("topological sort", "拓扑排序",
         "An ordering of a graph's nodes in which every node comes after all the nodes it depends on."),
    Term("multilayer perceptron (MLP)", "多层感知机",
         "A network of fully connected layers with non-linear activations between them.",
         note="the course writes 'multilayer perceptron' (03) and 'multi-layer perceptron' (04): one entry"),
    Term("tensor", "张量",
         "A multi-dimensional array of numbers (a scalar, vector, matrix or more), the data type of TensorFlow."),
    Term("gradient check", "梯度检验",
         "Comparing gradients computed by backpropagation with numerical estimates from finite differences, to find "
         "mistakes."),
    Term("central difference", "中心差分",
         "The derivative estimate (f(x + h) - f(x - h)) / 2h, whose error shrinks like h squared."),
    # 04 training with Keras
    Term("normalization", "归一化",
         "Rescaling inputs to a standard range or scale, for example pixel values from 0-255 to [0, 1]."),
    Term("flatten", "展平", "Reshaping a multi-dimensional input, such as a 28x28 image, into one vector."),
    Term("functional API", "函数式 API",
         "Keras' way of building a model by calling layers on tensors, which allows several inputs, outputs and "
         "branches."),
    Term("optimizer", "优化器",
         "The algorithm that updates a model's parameters from their gradients: SGD, momentum, RMSprop, Adam, ..."),
    Term("validation set", "验证集",
         "Data held out from training to compare models and settings, so that the test set stays unseen."),
    Term("test set", "测试集",
         "Data used once, at the end, to estimate how the final model does on examples it has never seen."),
    Term("confusion matrix", "混淆矩阵",
         "A table that counts, for each true class, how often the model predicted each class; for one class against "
         "the rest, the true and false positives and negatives.",
         note=_SAME.format("'a confusion matrix' (04) and 'the four confusion counts' (06), its cells")),
    Term("training set", "训练集", "The examples a model's parameters are fitted on."),
    Term("overfitting", "过拟合",
         "A model fitting its training data, noise included, so closely that it does worse on new data."),
    Term("dense layer", "全连接层",
         "A layer in which every output is a weighted sum of all the inputs plus a bias (Keras' `Dense`); also "
         "called fully connected."),
    Term("parameters", "参数", "The numbers a model learns during training, such as its weights and biases."),
    Term("learning curves", "学习曲线",
         "Plots of the loss or accuracy on the training and validation data against the training epochs."),
    Term("accuracy", "准确率", "The fraction of predictions that are correct."),
    # 05 training deep networks
    Term("saturation", "饱和",
         "An activation (sigmoid, tanh, softmax) driven to where it is flat, so its gradient is nearly zero and "
         "learning stalls.",
         note=_SAME.format("'units saturate' (05), 'the softmax saturates' (09) and 'saturation' (14)")),
    Term("vanishing gradients", "梯度消失",
         "Gradients that shrink geometrically as they flow back through many layers or time steps, so the early "
         "ones barely learn."),
    Term("exploding gradients", "梯度爆炸",
         "Gradients that grow geometrically as they flow back through many layers or time steps, making the updates "
         "huge and training unstable."),
    Term("initialization", "初始化",
         "How a network's weights are set before training; Glorot and He initialization choose their variance so "
         "that signals keep their scale from layer to layer."),
    Term("variance", "方差", "The mean squared deviation of a quantity from its mean: how widely it spreads."),
    Term("batch normalization", "批归一化",
         "Normalising each feature over the batch to mean 0 and variance 1, then scaling and shifting it by learned "
         "parameters; running averages replace the batch statistics at inference."),
    Term("layer normalization", "层归一化",
         "Normalising each example over its own features to mean 0 and variance 1, then scaling and shifting it by "
         "learned parameters; it does not depend on the batch."),
    Term("gradient clipping", "梯度裁剪",
         "Scaling gradients down when their norm exceeds a threshold: the global norm of all of them, or each "
         "example's gradient on its own in DP-SGD.",
         note=_SAME.format("clipping by global norm (05) and DP-SGD's per-example clipping (14)")),
    Term("weight decay", "权重衰减",
         "Shrinking every weight toward zero by a small fraction at each step; AdamW applies it apart from the "
         "adaptive gradient step."),
    # 06 generalization
    Term("generalization", "泛化", "How well a model does on new data from the same source as its training data."),
    Term("underfitting", "欠拟合",
         "A model too simple or too little trained to capture the pattern in its data, so it does badly on the "
         "training data and on new data."),
    Term("regularization", "正则化",
         "Any change to training that reduces overfitting, such as an L1 or L2 penalty on the weights, dropout or "
         "data augmentation."),
    Term("dropout", "丢弃法",
         "Setting a random fraction of a layer's outputs to zero at each training step and scaling the others up, so "
         "that units cannot rely on each other."),
    Term("early stopping", "早停", "Stopping training when the validation loss stops improving, and keeping the best weights."),
    Term("data augmentation", "数据增强",
         "Enlarging the training set with transformed copies of its examples (shifts, rotations, flips) that keep "
         "their labels."),
    Term("k-fold cross-validation", "k 折交叉验证",
         "Splitting the data into k folds, training k times with a different fold held out each time, and "
         "averaging the k validation scores."),
    Term("precision", "精确率", "Of the examples predicted positive, the fraction that are positive: TP / (TP + FP)."),
    Term("recall", "召回率", "Of the positive examples, the fraction the model finds: TP / (TP + FN)."),
    Term("capacity", "容量",
         "How complex the functions a model can fit are, for example the degree of a polynomial or the number of "
         "parameters."),
    Term("sparse", "稀疏", "Having most entries exactly zero, as the weights an L1 penalty leaves."),
    Term("validation split", "验证集划分",
         "The fraction of the training data set aside as a validation set (Keras' `validation_split`)."),
    # 07 convolutional networks
    Term("convolutional neural network (CNN)", "卷积神经网络",
         "A network built mostly from convolution and pooling layers, suited to images because it uses locality and "
         "weight sharing."),
    Term("convolution", "卷积",
         "Sliding a small kernel of weights over an input and taking, at each position, the weighted sum of the "
         "patch under it."),
    Term("max pooling", "最大池化", "Pooling that keeps the largest value of each window."),
    Term("locality", "局部连接",
         "Each output of a convolution depending only on a small neighbourhood of the input (local connectivity)."),
    Term("weight sharing", "权值共享",
         "Using the same kernel weights at every position of the input, so a convolution has far fewer parameters "
         "than a dense layer."),
    Term("feature map", "特征图",
         "The output of one convolution filter over the whole input: a grid that shows where the filter's pattern "
         "occurs."),
    Term("residual block", "残差块",
         "A few layers whose output is added to their input, y = x + F(x), so that they only learn a correction "
         "to x."),
    Term("filter", "卷积核",
         "The small array of weights, also called the kernel, that a convolution slides over its input."),
    Term("stride", "步幅", "The number of positions a convolution or pooling window moves between two outputs."),
    Term("cross-correlation", "互相关",
         "Sliding a kernel over an input without flipping it: what deep learning's 'convolution' layers compute."),
    Term("padding", "填充",
         "Values (usually zeros) added around the border of an input, for example so that a convolution's output "
         "keeps the input's size."),
    Term("pooling", "池化",
         "Summarising each small window of a feature map by one number (its maximum or mean), which shrinks the map."),
    Term("receptive field", "感受野",
         "The region of the input that one unit's value depends on; it grows with every convolution layer."),
    Term("translation equivariance", "平移等变性", "Shifting the input shifts a convolution's output by the same amount."),
    Term("shortcut", "捷径连接",
         "The path that carries a residual block's input around its layers, to be added to their output."),
    # 08 recurrent networks
    Term("recurrent neural network (RNN)", "循环神经网络",
         "A network that reads a sequence one step at a time, computing a new hidden state from the previous one "
         "and the current input with the same weights."),
    Term("hidden state", "隐状态",
         "The vector a recurrent network carries from step to step, summarising the sequence read so far."),
    Term("long short-term memory (LSTM)", "长短期记忆网络",
         "A recurrent cell with a cell state and input, forget and output gates, which lets information and "
         "gradients survive many steps."),
    Term("gate", "门",
         "A vector of values between 0 and 1, computed by a sigmoid, that scales element by element how much of a "
         "signal passes."),
    Term("gated recurrent unit (GRU)", "门控循环单元",
         "A recurrent cell with an update and a reset gate and no separate cell state, lighter than an LSTM."),
    Term("backpropagation through time", "通过时间反向传播",
         "Backpropagation through a recurrent network unrolled over the time steps of a sequence."),
    Term("cell state", "细胞状态/记忆元",
         "The LSTM's memory vector, changed only by element-wise forgetting and adding, so that gradients can flow "
         "along it over many steps.",
         note="one English term, two Chinese terms in one gloss (细胞状态, and 记忆元 as d2l writes it): kept as "
              "written"),
    Term("update gate", "更新门",
         "The GRU gate that mixes the previous hidden state with the candidate state: how much of the state to "
         "replace."),
    Term("reset gate", "重置门",
         "The GRU gate that scales how much of the previous hidden state goes into the candidate state."),
    Term("bidirectional RNN", "双向循环神经网络",
         "Two recurrent networks with their own weights, one reading the sequence forwards and one backwards, whose "
         "states are joined at each step, so every output sees the whole sequence."),
    Term("character-level language model", "字符级语言模型",
         "A language model whose tokens are single characters: it predicts the next character from the ones "
         "before."),
    # 09 attention and Transformers
    Term("attention", "注意力",
         "Computing each output as a weighted average of values, the weights a softmax of how well a query matches "
         "each key."),
    Term("Transformer", "Transformer 模型",
         "A network built from attention and feed-forward blocks with residual connections and layer normalization, "
         "without recurrence."),
    Term("query", "查询",
         "In attention, the vector that says what a position is looking for; it is compared with every key."),
    Term("key", "键", "In attention, the vector that says what a position offers; queries are compared with it."),
    Term("value", "值",
         "In attention, the vector a position contributes to the output, weighted by how well its key matches the "
         "query."),
    Term("multi-head attention", "多头注意力",
         "Several attentions side by side on different learned projections of the queries, keys and values, their "
         "outputs joined and projected."),
    Term("self-attention", "自注意力", "Attention in which the queries, keys and values all come from the same sequence."),
    Term("cross-attention", "交叉注意力",
         "Attention in which the queries come from one sequence (the decoder's) and the keys and values from another "
         "(the encoder's output)."),
    Term("mask", "掩码",
         "A pattern of allowed and forbidden positions; in attention, forbidden scores are set to minus infinity "
         "before the softmax."),
    Term("padding mask", "填充掩码",
         "A mask that stops attention from looking at the padding tokens that make sequences of equal length."),
    Term("causal mask", "因果掩码",
         "A mask that lets each position attend only to itself and earlier positions, so a model cannot see the "
         "tokens it must predict."),
    Term("permutation-equivariant", "置换等变",
         "Said of a function whose output is reordered as its input is; attention is, which is why it needs "
         "positional information."),
    Term("positional encoding", "位置编码",
         "A vector added to each token's embedding that tells the model the token's position, such as sines and "
         "cosines of several frequencies."),
    Term("Transformer block", "Transformer 块",
         "Self-attention followed by a position-wise feed-forward network, each with a residual connection and layer "
         "normalization."),
    Term("feed-forward network", "前馈网络",
         "In a Transformer block, two dense layers with a non-linearity between them, applied to each position on "
         "its own."),
    Term("residual connection", "残差连接",
         "Adding a sublayer's input to its output, x + F(x), so that signals and gradients can pass it unchanged."),
    Term("exact match", "完全匹配", "The fraction of output sequences with every position right."),
    Term("sliding-window attention", "滑动窗口注意力",
         "Attention in which each position sees only the positions within a fixed distance of it, so its cost grows "
         "linearly with the length."),
    Term("encoder-decoder", "编码器-解码器",
         "A Transformer of two stacks: an encoder reads the input, and a decoder writes the output token by token, "
         "reading the encoder's output through cross-attention."),
    Term("teacher forcing", "教师强制",
         "Training a decoder on the correct output shifted right by one, so that every position predicts the next "
         "correct token and all positions train at once."),
    Term("greedy decoding", "贪心解码",
         "Generating an output one token at a time, always taking the most likely next token."),
    Term("learning-rate warm-up", "学习率预热",
         "Starting training with a small learning rate that grows over the first steps to its full value."),
    Term("post-norm", "后置归一化",
         "A Transformer block that applies layer normalization after each residual sum, as the original Transformer."),
    Term("pre-norm", "前置归一化",
         "A Transformer block that applies layer normalization to each sublayer's input and leaves the residual "
         "stream unnormalized, as GPT-2."),
    # 10 language models
    Term("language model", "语言模型",
         "A model of the probability of text, usually one that predicts the next token from the ones before it."),
    Term("tokenization", "分词", "Splitting text into tokens and mapping each token to an integer id."),
    Term("byte-pair encoding (BPE)", "字节对编码",
         "A tokenizer that starts from characters or bytes and repeatedly merges the most frequent adjacent pair "
         "into a new token."),
    Term("decoder", "解码器",
         "A Transformer stack with a causal mask, each position seeing only the ones before it, that generates a "
         "sequence token by token; GPT is decoder-only."),
    Term("pretraining", "预训练",
         "Training a model on a large general corpus, for example on next-token prediction, before adapting it to "
         "a task."),
    Term("temperature", "温度",
         "The number T that logits are divided by before a softmax: T > 1 flattens the distribution, T < 1 sharpens "
         "it.",
         note=_SAME.format("sampling (10) and distillation (12): the same divisor of the logits")),
    Term("KV cache", "键值缓存",
         "The keys and values of the tokens already processed, kept so that generating a new token computes "
         "attention for that token only."),
    Term("fine-tuning", "微调",
         "Training an already trained model further on new data or a new task, usually with a small learning rate."),
    Term("transfer learning", "迁移学习",
         "Reusing a network trained on one task for another: its layers as the base, a new head, and training on "
         "the new task's data."),
    Term("scaling experiment", "缩放实验",
         "Training models of several sizes and measuring how the loss falls as the size, the data or the compute "
         "grows."),
    Term("tokens", "词元",
         "The units a language model reads and predicts (characters, subwords or words), each with an integer id."),
    Term("vocabulary", "词表", "The set of all tokens a tokenizer can produce, each with its id."),
    Term("subwords", "子词",
         "Tokens that are parts of words, such as frequent stems and endings, from which rare words are spelled."),
    Term("merge", "合并",
         "One step of byte-pair encoding: every occurrence of a frequent pair of tokens replaced by one new token."),
    Term("bigram model", "二元模型", "A language model that predicts the next token from the current one only."),
    Term("perplexity", "困惑度",
         "The exponential of the mean cross-entropy per token: a model with perplexity k is as unsure as one "
         "choosing uniformly among k tokens."),
    Term("from scratch", "从头训练", "Training a model from random weights, with no pretraining."),
    Term("power law", "幂律",
         "A relation y = a * x^(-b), a straight line on log-log axes; loss follows one in model size, data and "
         "compute."),
    Term("encoder", "编码器",
         "A Transformer stack without a causal mask, in which every position sees the whole input, as in BERT."),
    Term("masked language model", "掩码语言模型",
         "A model trained to predict tokens hidden in a text from the tokens on both sides of them, as BERT is."),
    # 12 efficient models
    Term("quantization", "量化",
         "Storing numbers (weights, activations) in fewer bits, as small integers and a scale, to save memory and "
         "compute."),
    Term("asymmetric (affine) quantization", "非对称",
         "A quantization scheme that maps a range [r_min, r_max] onto the integers with a scale and a zero point."),
    Term("symmetric quantization", "对称",
         "A quantization scheme with zero point 0: a range symmetric around zero mapped onto the integers by a "
         "scale alone."),
    Term("pruning", "剪枝",
         "Removing weights (setting them to zero) or whole units from a trained network to make it smaller or "
         "faster."),
    Term("sparsity", "稀疏度", "The fraction of a tensor's entries that are zero."),
    Term("knowledge distillation", "知识蒸馏",
         "Training a small student model on a large teacher model's output distribution, not only on the labels."),
    Term("mixed precision", "混合精度",
         "Computing in 16-bit floats (float16 or bfloat16) while keeping the weights and sensitive sums in float32."),
    Term("loss scaling", "损失缩放",
         "Multiplying the loss by a large factor before backpropagation so that small float16 gradients do not "
         "underflow, and dividing the gradients by it before the update."),
    Term("weight matrices", "权重矩阵",
         "The matrices of a dense layer's weights (its kernels), one column per output unit."),
    Term("post-training quantization", "训练后量化", "Quantizing a model's weights after training, without training it further."),
    Term("per tensor", "逐张量", "Quantization with one scale (and zero point) for a whole tensor."),
    Term("per channel", "逐通道",
         "Quantization with one scale per output channel (a column of a kernel), which keeps more precision than "
         "one scale per tensor.",
         note=_SAME.format("'per output column' and 'per output channel' (12)")),
    Term("magnitude pruning", "幅值剪枝", "Pruning the weights with the smallest absolute values."),
    Term("callback", "回调",
         "An object whose methods Keras calls at set moments of training (each batch, each epoch), for example to "
         "apply a mask or stop early."),
    Term("teacher", "教师模型",
         "In distillation, the large trained model whose output distribution the small student learns to imitate."),
    Term("underflow", "下溢", "A number too small in magnitude for its floating-point format, so it rounds to zero."),
    Term("master weights", "主权重",
         "The float32 copy of the weights that mixed-precision training updates, while the forward and backward "
         "passes use 16-bit copies.",
         note=_SAME.format("'the master weights' (12) and 'master copy' (13)")),
    # 13 distributed training
    Term("data parallelism", "数据并行",
         "Training with a copy of the model on every device, each on its own share of the batch, their gradients "
         "averaged."),
    Term("replica", "副本", "One of the copies of the model that data parallelism keeps, one per device."),
    Term("all-reduce", "全归约",
         "A collective operation that sums (or averages) a tensor over all devices and gives every device the "
         "result."),
    Term("global batch", "全局批量", "The whole batch of one training step, split across all the replicas."),
    Term("per-replica batches", "每副本批量",
         "The parts of the global batch that the replicas process, one each: the global batch divided by the number "
         "of replicas."),
    Term("gradient accumulation", "梯度累积",
         "Summing the gradients of several micro-batches before one update, to train with a batch larger than "
         "memory holds."),
    Term("tensor parallelism", "张量并行",
         "Splitting a layer's weight matrices across devices, each device computing its slice of the layer's "
         "output."),
    Term("pipeline parallelism", "流水线并行",
         "Cutting a model between layers into stages on different devices, with micro-batches flowing through them "
         "in turn."),
    Term("shard", "分片",
         "One of the equal pieces a batch, or a model's parameters and optimizer state, is split into, one per "
         "device.",
         note=_SAME.format("shards of a batch and of the model state (13)")),
    Term("global batch size", "全局批量大小",
         "The number of examples in one training step over all replicas: the per-replica batch size times the "
         "number of replicas."),
    Term("mirrored variable", "镜像变量",
         "A `tf.distribute` variable with one copy on every device, kept equal by applying the same updates."),
    Term("micro-batches", "微批量",
         "Slices of a batch processed one after another, for gradient accumulation or to keep a pipeline busy."),
    Term("worker", "工作节点",
         "One process (usually one machine) of a multi-worker training cluster; every worker runs the same script."),
    Term("chief", "主节点",
         "The worker (number 0) that does the cluster's extra jobs, such as writing checkpoints and logs."),
    Term("activations", "激活值",
         "The outputs of a network's layers for a given input, kept from the forward pass for the backward pass."),
    Term("all-gather", "全收集",
         "A collective operation that gives every device the concatenation of the pieces all the devices hold."),
    Term("stages", "阶段", "The consecutive groups of layers that pipeline parallelism puts on different devices."),
    Term("bubble", "气泡",
         "The time a pipeline's stages wait while it fills at the start of a step and drains at the end: with p "
         "stages and m micro-batches, a fraction (p - 1) / (m + p - 1)."),
    # 14 interpretability and privacy
    Term("saliency map", "显著性图",
         "The gradient of a class score with respect to the input pixels, shown as an image: which pixels change "
         "the score most."),
    Term("integrated gradients", "积分梯度",
         "Attributions that integrate the gradient along a straight path from a baseline to the input, times the "
         "input's difference from the baseline."),
    Term("occlusion map", "遮挡图",
         "A map of how much the class probability drops when a patch placed at each position blacks out the image "
         "there."),
    Term("local surrogate explanation", "局部代理解释",
         "A simple model (a weighted linear one, as in LIME) fitted to imitate a network near one input; its "
         "weights explain that prediction."),
    Term("Grad-CAM", "梯度加权类激活映射",
         "Gradient-weighted class activation mapping: the last convolution's feature maps weighted by the pooled "
         "gradients of the class score."),
    Term("DP-SGD", "差分隐私随机梯度下降",
         "Differentially private SGD: each example's gradient clipped, Gaussian noise added to their sum, then the "
         "step taken."),
    Term("privacy accountant", "隐私会计",
         "A procedure that adds up the privacy loss of all the steps of a training run into the run's (epsilon, "
         "delta) guarantee."),
    Term("membership-inference attack", "成员推断攻击",
         "An attack that guesses from a model's outputs whether a given record was in its training set."),
    Term("federated averaging (FedAvg)", "联邦平均",
         "Federated learning in which clients train the model on their own data for a few steps and a server "
         "averages their weights."),
    Term("finite differences", "有限差分",
         "Estimating a derivative from function values at nearby points, such as (f(x + h) - f(x - h)) / 2h."),
    Term("baseline", "基线",
         "The reference input that means 'no information' (a black image) from which integrated gradients starts."),
    Term("completeness", "完备性",
         "The property that attributions add up to the output's change from the baseline: F(x) - F(x')."),
    Term("Riemann sum", "黎曼和",
         "An integral approximated by the sum of the function's values at m points times the width of each slice."),
    Term("occlusion", "遮挡",
         "Explaining a prediction by hiding parts of the input and measuring how much the output changes."),
    Term("superpixels", "超像素",
         "Groups of neighbouring pixels treated as one feature each, here the square patches of a grid."),
    Term("weighted least squares", "加权最小二乘",
         "Fitting a linear model by minimising the sum of squared errors, each multiplied by its example's weight."),
    Term("rank correlation", "秩相关",
         "The correlation of two sets of values after each value is replaced by its rank (Spearman's rho): 1 when "
         "both order things the same way."),
    Term("differential privacy", "差分隐私",
         "A promise about an algorithm: changing one example of its data changes the probability of any output by "
         "at most a factor e^epsilon (plus delta)."),
    Term("adjacency", "相邻关系",
         "Which pairs of data sets count as differing in one example: one example added or removed, or one replaced."),
    Term("Poisson sampling", "泊松采样",
         "Drawing each batch by letting every example join it on its own with probability q, so batch sizes vary."),
    Term("Rényi differential privacy (RDP)", "Rényi 差分隐私",
         "Differential privacy measured by the Rényi divergence of order alpha between the output distributions; "
         "its bounds add up over steps."),
    Term("privacy amplification by subsampling", "子采样放大",
         "The privacy gained when each step sees only a random sample of the data: an example that is probably "
         "not in the batch is hard to see in it."),
    Term("area under the curve (AUC)", "曲线下面积",
         "The area under the ROC curve: the probability that a random positive example scores higher than a random "
         "negative one."),
    Term("federated learning", "联邦学习",
         "Training a shared model on data that stays with many clients (phones, hospitals), which send only model "
         "updates."),
    Term("non-IID", "非独立同分布",
         "Not independent and identically distributed: clients whose data differ in distribution, such as each "
         "holding mostly two classes."),
    Term("central training", "集中式训练", "Ordinary training on all the data pooled in one place."),
    Term("pretrained checkpoint", "预训练检查点",
         "A file of a model's weights after pretraining, loaded to start other work from instead of random weights."),
    Term("LoRA (low-rank adaptation)", "低秩适配",
         "Fine-tuning that freezes a weight matrix W and trains a low-rank update (alpha/r) A B beside it, with B "
         "starting at zero."),
    Term("instruction tuning", "指令微调",
         "Fine-tuning a language model on prompts and the responses wanted for them, written in a fixed template."),
    Term("template", "模板", "The fixed text layout in which every prompt and response is written for a model."),
    Term("loss masking", "损失掩码",
         "Giving some target positions weight 0 in the loss (such as the prompt's), so that they add nothing to it "
         "or to its gradient."),
    Term("linear probe", "线性探测",
         "A linear classifier trained on the features of a frozen model, to measure what those features hold."),
    Term("DPO (direct preference optimization)", "直接偏好优化",
         "Training a model on pairs of preferred and rejected responses with a loss on their log-probability ratios "
         "to a frozen reference model."),
    Term("KL divergence", "KL 散度",
         "How much one probability distribution p differs from another q: the sum of p log(p / q), 0 only when they "
         "are equal."),
)
