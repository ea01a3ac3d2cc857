"""`layerflow draw`: the layer graph of a net as Graphviz DOT, SVG or PNG.

    layerflow draw configs/lenet.yaml -o lenet.svg [--phase test] [--rankdir TB]

Layers are boxes (name, type and the params as the YAML writes them, e.g.
`weight_filler: {type: xavier}`; for a net built in Python, the params that differ from
their defaults; in-place layers dashed and marked), blobs are edges labelled with name and
shape (outputs that no layer reads end in an ellipse). The Split layers the Net inserts are left out, so the
picture shows the net as written. With Graphviz's `dot` program on PATH, SVG and PNG come
from it; without it, layerflow lays the graph out itself (SVG as text, PNG through
matplotlib) and writes the .dot beside the picture, saying so.
"""
import dataclasses
import html
import shutil
import subprocess
from pathlib import Path

COLORS = {"data": "#d9ead3", "loss": "#f4cccc", "param": "#cfe2f3", "other": "#eeeeee"}


@dataclasses.dataclass
class Node:
    id: str
    lines: list
    kind: str              # data | param | loss | other | output
    inplace: bool = False
    rank: int = 0


@dataclasses.dataclass
class Edge:
    src: str
    dst: str
    label: str


ALWAYS_SHOWN = ("pool", "operation")        # the kind of a Pooling / Eltwise, default or not


def key_params(layer, limit=5):
    """`k: v` strings of the layer's scalar/list params that differ from the defaults
    (and the kind of a Pooling or Eltwise layer, always)."""
    out = []
    for f in dataclasses.fields(layer.p):
        value = getattr(layer.p, f.name)
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = object()
        if (value != default or f.name in ALWAYS_SHOWN) and value is not None:
            out.append(f"{f.name}: {value}")
    return out[:limit]


def _plain(value):
    """Marked YAML containers as plain dicts and lists (for yaml.safe_dump)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def yaml_value(value):
    """A param value as YAML writes it: `{type: xavier}`, `[1, 2]`, `0.00390625`, `true`."""
    import yaml
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10 ** 6,
                          sort_keys=False).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").strip()


def written_params(config, phase, limit=5):
    """{layer name: ['key: value' as written in the YAML]} for the layers of `phase` (the
    layer's own keys, without name/type/bottom/top/param/include...)."""
    from .config import load_config
    from .config.loader import net_section
    from .config.specs import COMMON_KEYS
    root, file = load_config(config)
    net_cfg, _, _ = net_section(root, file)
    out = {}
    for cfg in net_cfg.get("layers") or []:
        if not isinstance(cfg, dict) or "name" not in cfg:
            continue
        if not _keeps(cfg, phase):
            continue
        lines = [f"{k}: {yaml_value(v)}" for k, v in cfg.items() if k not in COMMON_KEYS]
        out[str(cfg["name"])] = lines[:limit]
    return out


def _keeps(cfg, phase):
    rules = cfg.get("include") or cfg.get("exclude") or []
    rules = rules if isinstance(rules, list) else [rules]
    phases = {str(r.get("phase", "")).upper() for r in rules if isinstance(r, dict)}
    if not phases or "" in phases:
        return True
    return (phase.upper() in phases) == ("include" in cfg)


def graph_of(net, written=None):
    """(nodes, edges) of a built Net, with Split layers folded away. `written`: the params
    per layer name as the YAML writes them (`written_params`); default: `key_params`."""
    nodes, edges, producer = [], [], {}
    read = set()
    for li, layer in enumerate(net.layers):
        bottoms, tops = net.bottom_vecs[li], net.top_vecs[li]
        if layer.type_name == "Split" and layer.spec is None:
            src = producer.get(id(bottoms[0]))
            for t in tops:
                producer[id(t)] = src
            read.add(id(bottoms[0]))
            continue
        inplace = any(t is b for t in tops for b in bottoms)
        kind = ("data" if not bottoms else "loss" if layer.is_loss else
                "param" if layer.blobs else "other")
        lines = [layer.name, f"({layer.type_name}{', in place' if inplace else ''})"]
        if written is not None and layer.name in written:
            shown = written[layer.name]
            lines += [f"{k}: {getattr(layer.p, k)}" for k in ALWAYS_SHOWN
                      if hasattr(layer.p, k) and not any(w.startswith(k + ":") for w in shown)]
            lines += shown
        else:
            lines += key_params(layer)
        node = Node(f"L{li}", lines, kind, inplace)
        rank = 0
        for b in bottoms:
            src = producer.get(id(b))
            read.add(id(b))
            if src is not None:
                src_node, name = src
                edges.append(Edge(src_node.id, node.id, f"{name} {list(b.shape)}"))
                rank = max(rank, src_node.rank + 1)
        node.rank = rank
        nodes.append(node)
        for t in tops:
            producer[id(t)] = (node, t.name)
    for li, tops in enumerate(net.top_vecs):
        for t in tops:
            src = producer.get(id(t))
            if src is None or id(t) in read or src[0].id != f"L{li}":
                continue
            out = Node(f"B{li}_{t.name}", [t.name], "output", rank=src[0].rank + 1)
            nodes.append(out)
            edges.append(Edge(src[0].id, out.id, f"{t.name} {list(t.shape)}"))
            read.add(id(t))
    return nodes, edges


def _dot_quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(net, rankdir="TB", written=None):
    nodes, edges = graph_of(net, written)
    lines = [f"digraph {_dot_quote(net.name)} {{", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for n in nodes:
        label = _dot_quote("\n".join(n.lines))
        if n.kind == "output":
            lines.append(f"  {n.id} [label={label}, shape=ellipse];")
        else:
            style = "filled,dashed" if n.inplace else "filled"
            lines.append(f"  {n.id} [label={label}, shape=box, style=\"{style}\", "
                         f"fillcolor=\"{COLORS[n.kind]}\"];")
    for e in edges:
        lines.append(f"  {e.src} -> {e.dst} [label={_dot_quote(e.label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- built-in layout (no Graphviz) -----------------------------------------------------------
CHAR_W, LINE_H, PAD, GAP_X, GAP_Y, LANE = 7.0, 15.0, 10.0, 30.0, 50.0, 14.0
LABEL_W = 6.0          # width of a character of an edge label


def layout(nodes, edges):
    """Boxes rank by rank from the top (nodes of one rank side by side, centred), and edge
    routes: straight down between adjacent ranks; edges that skip ranks leave the source's
    right side, run down a lane of their own right of the boxes, and enter the target's
    right side. Returns (boxes {id: (x, y, w, h)}, routes [(points, label_xy, edge)],
    width, height)."""
    sizes = {n.id: (max(len(s) for s in n.lines) * CHAR_W + 2 * PAD,
                    len(n.lines) * LINE_H + 2 * PAD) for n in nodes}
    ranks = {}
    for n in nodes:
        ranks.setdefault(n.rank, []).append(n)
    widths = {r: sum(sizes[n.id][0] for n in ns) + GAP_X * (len(ns) - 1)
              for r, ns in ranks.items()}
    content_w = max(widths.values()) + 2 * GAP_X
    pos, y = {}, GAP_Y / 2
    for r in sorted(ranks):
        x = (content_w - widths[r]) / 2
        h = max(sizes[n.id][1] for n in ranks[r])
        for n in ranks[r]:
            w, nh = sizes[n.id]
            pos[n.id] = (x, y + (h - nh) / 2, w, nh)
            x += w + GAP_X
        y += h + GAP_Y
    rank_of = {n.id: n.rank for n in nodes}
    right = max(x + w for x, _, w, _ in pos.values())
    routes, lane_of, label_w = [], {}, 0.0
    for e in edges:
        (x1, y1, w1, h1), (x2, y2, w2, _) = pos[e.src], pos[e.dst]
        if rank_of[e.dst] - rank_of[e.src] <= 1:
            pts = [(x1 + w1 / 2, y1 + h1), (x2 + w2 / 2, y2)]
            label = ((pts[0][0] + pts[1][0]) / 2 + 6, (pts[0][1] + pts[1][1]) / 2 + 3)
            routes.append((pts, label, e))
            continue
        key = (e.src, e.label)                # one blob read by several layers: one lane
        first = key not in lane_of
        if first:
            lane_of[key] = len(lane_of)
        lane_x = right + 20 + LANE * lane_of[key]
        sy, ty = y1 + h1 / 2, y2 - 12
        pts = [(x1 + w1, sy), (lane_x, sy), (lane_x, ty), (x2 + w2 / 2, ty),
               (x2 + w2 / 2, y2)]
        routes.append((pts, "lane" if first else "", e))
        label_w = max(label_w, len(e.label) * LABEL_W)
    lanes = len(lane_of)
    lanes_right = right + 20 + LANE * max(lanes - 1, 0)
    for i, (pts, label, e) in enumerate(routes):
        if label == "lane":
            routes[i] = (pts, (lanes_right + 8, (pts[1][1] + pts[2][1]) / 2 + 3), e)
        elif label == "":
            routes[i] = (pts, None, e)
    width = max(content_w, lanes_right + 16 + label_w) if lanes else content_w
    for pts, lxy, e in routes:
        if lxy is not None:
            width = max(width, lxy[0] + len(e.label) * LABEL_W + 8)
    return pos, routes, width, y - GAP_Y / 2


def to_svg(net, written=None):
    """An SVG picture of the net from the built-in layout (no Graphviz needed)."""
    nodes, edges = graph_of(net, written)
    pos, routes, width, height = layout(nodes, edges)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
           'font-family="Helvetica, Arial, sans-serif">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/>'
           '</marker></defs>',
           f'<title>{html.escape(net.name)}</title>',
           '<rect width="100%" height="100%" fill="white"/>']
    for pts, lxy, e in routes:
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<path d="{d}" fill="none" stroke="#555" stroke-width="1.2" '
                   'marker-end="url(#arrow)"/>')
        if lxy is not None:
            out.append(f'<text x="{lxy[0]:.1f}" y="{lxy[1]:.1f}" font-size="10" '
                       f'fill="#333">{html.escape(e.label)}</text>')
    for n in nodes:
        x, y, w, h = pos[n.id]
        if n.kind == "output":
            out.append(f'<ellipse cx="{x + w / 2:.1f}" cy="{y + h / 2:.1f}" rx="{w / 2:.1f}" '
                       f'ry="{h / 2:.1f}" fill="white" stroke="#333"/>')
        else:
            dash = ' stroke-dasharray="5,3"' if n.inplace else ""
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                       f'rx="4" fill="{COLORS[n.kind]}" stroke="#333"{dash}/>')
        for i, line in enumerate(n.lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{x + w / 2:.1f}" y="{y + PAD + (i + 0.8) * LINE_H:.1f}" '
                       f'font-size="11" text-anchor="middle"{weight}>'
                       f'{html.escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_png(net, path, dpi=100, written=None):
    """A PNG of the built-in layout, drawn with matplotlib (ImportError when missing)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Ellipse, FancyBboxPatch
    nodes, edges = graph_of(net, written)
    pos, routes, width, height = layout(nodes, edges)
    scale = 1.5                                   # a sharper picture than 1 px per unit
    fig = plt.figure(figsize=(scale * width / dpi, scale * height / dpi), dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    fs = 8 * scale
    for pts, lxy, e in routes:
        xs, ys = zip(*pts)
        ax.plot(xs[:-1] + (xs[-1],), ys, color="#555", lw=1)
        ax.annotate("", xy=pts[-1], xytext=pts[-2],
                    arrowprops=dict(arrowstyle="-|>", color="#555", lw=1,
                                    mutation_scale=10 * scale, shrinkA=0, shrinkB=0))
        if lxy is not None:
            ax.text(lxy[0], lxy[1], e.label, fontsize=fs * 0.85, va="baseline", color="#333")
    for n in nodes:
        x, y, w, h = pos[n.id]
        if n.kind == "output":
            ax.add_patch(Ellipse((x + w / 2, y + h / 2), w, h, fc="white", ec="#333"))
        else:
            ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=4",
                                        fc=COLORS[n.kind], ec="#333",
                                        ls="--" if n.inplace else "-"))
        for i, line in enumerate(n.lines):
            ax.text(x + w / 2, y + PAD + (i + 0.5) * LINE_H, line, ha="center", va="center",
                    fontsize=fs, fontweight="bold" if i == 0 else "normal")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def draw(config, output, phase="train", rankdir="TB", use_graphviz=True):
    """Write the picture of `config`'s net to `output` (.dot, .svg or .png).

    Returns the list of messages for the user (what was written, what was missing)."""
    from .net import Net
    output = Path(output)
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("dot", "gv", "svg", "png"):
        raise ValueError(f"{output}: the picture must end in .svg, .png or .dot")
    net = Net(config, phase)
    written = written_params(config, phase) if not isinstance(config, dict) or \
        hasattr(config, "key_marks") else None
    output.parent.mkdir(parents=True, exist_ok=True)
    dot_text = to_dot(net, rankdir, written)
    if fmt in ("dot", "gv"):
        output.write_text(dot_text, encoding="utf-8")
        return [f"wrote {output}"]
    dot = shutil.which("dot") if use_graphviz else None
    if dot:
        proc = subprocess.run([dot, f"-T{fmt}", "-o", str(output)], input=dot_text.encode(),
                              capture_output=True, timeout=120)
        if proc.returncode == 0:
            return [f"wrote {output} (Graphviz)"]
        msgs = [f"Graphviz failed ({proc.stderr.decode(errors='replace').strip()}); "
                "using the built-in layout"]
    else:
        msgs = ["Graphviz's 'dot' program was not found (apt install graphviz): "
                "using layerflow's built-in layout"]
    dot_path = output.with_suffix(".dot")
    dot_path.write_text(dot_text, encoding="utf-8")
    msgs.append(f"wrote {dot_path}")
    if fmt == "svg":
        output.write_text(to_svg(net, written), encoding="utf-8")
    else:
        try:
            to_png(net, output, written=written)
        except ImportError:
            raise ValueError(f"{output}: a PNG needs Graphviz or matplotlib (pip install "
                             f"matplotlib); {dot_path} was written") from None
    msgs.append(f"wrote {output}")
    return msgs
