"""Everything a check gives, as plain values, to compare two checks of one text.

Diagnostics with their notes and help; each network's JSON, table, costs and facts (the
parameters its shapes depend on and where, the facts its class tests); and every node,
inside every use of a network too: its kind, place, arguments, parameter count, error,
whether it writes in place, the block's arguments and symbols at a use, and each input
and result: its name, dtype, shape, strides, batch and the origin of every dim.
"""

from __future__ import annotations

from netspec.costs import network_costs, network_training
from netspec.kinds import TensorArg
from netspec.report import network_json, network_table


def everything(result) -> tuple:
    return ([(d.to_json(), d.notes, d.help) for d in result.reporter.items],
            [network(n) + (network_json(n), network_table(n), _costs(n)) for n in result.networks])


def _costs(net) -> tuple:
    try:
        return str(network_costs(net)), str(network_training(net))
    except Exception as e:  # noqa: BLE001 - a network that does not check: the same either way
        return type(e).__name__


def network(net) -> tuple:
    nodes = [(n.kind_name, n.span, n.binding, n.alias, n.group, n.scopes, _args(n.args), n.params, n.error,
              n.in_place, n.shared, n.times, sorted(n.block_args.items(), key=str),
              sorted(n.block_symbols.items(), key=str), sorted(n.arg_params.items()),
              [_value(v) for v in n.inputs], sorted((k, _value(v)) for k, v in n.state.items()),
              [_value(v) for v in n.outputs], network(n.block) if n.block is not None else None)
             for n in net.nodes]
    return (net.name, net.generic, net.ok, nodes, [_value(v) for v in net.inputs],
            [(name, _value(v)) for name, v in net.outputs], sorted(net.fixed.items()), sorted(net.pins.items()),
            [str(f) for f in net.requires], [str(f) for f in net.assumed], list(net.binding_names),
            sorted(net.input_symbols.items()), [(d.role, d.name, _value(d.value), d.params) for d in net.tensors],
            str(net.total_params))


def _args(a):
    if a is None:
        return None
    values = {k: (v.name, v.tensor) if isinstance(v, TensorArg) else v for k in a.model_fields for v in [getattr(a, k)]}
    return type(a).__name__, values, a.model_fields_set


def _value(v) -> tuple:
    t = v.tensor
    return (v.name, v.index, None if t is None else (t.dtype, t.shape, t.origins, str(t.strides), t.batch, t.values))
