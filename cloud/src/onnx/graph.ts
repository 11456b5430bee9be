import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from './codec.ts';
import { onnx } from './codec.ts';
import { OnnxFormatError } from './errors.ts';
import { toNumber } from './tensor.ts';

export function initializerMap(graph: GraphProto): Map<string, TensorProto> {
  return new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
}

/** Graph inputs that are fed at run time (old IR versions also list initializers as inputs). */
export function runtimeInputs(graph: GraphProto) {
  const inits = initializerMap(graph);
  return (graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
}

export function producerMap(graph: GraphProto): Map<string, NodeProto> {
  const out = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) if (o) out.set(o, n);
  return out;
}

export function consumerMap(graph: GraphProto): Map<string, NodeProto[]> {
  const out = new Map<string, NodeProto[]>();
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = out.get(i);
      if (list) {
        if (!list.includes(n)) list.push(n);
      } else out.set(i, [n]);
    }
  }
  return out;
}

/** Nodes in an order where every producer precedes its consumers (Kahn). Throws on a cycle. */
export function topologicalOrder(graph: GraphProto): NodeProto[] {
  const nodes = graph.node ?? [];
  const producers = producerMap(graph);
  const pending = new Map<NodeProto, number>();
  const dependants = new Map<NodeProto, NodeProto[]>();
  for (const n of nodes) {
    const deps = new Set<NodeProto>();
    for (const i of n.input ?? []) {
      const p = producers.get(i);
      if (p && p !== n) deps.add(p);
    }
    pending.set(n, deps.size);
    for (const d of deps) dependants.set(d, [...(dependants.get(d) ?? []), n]);
  }
  const ready = nodes.filter((n) => pending.get(n) === 0);
  const order: NodeProto[] = [];
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const d of dependants.get(n) ?? []) {
      const left = (pending.get(d) ?? 0) - 1;
      pending.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length !== nodes.length) {
    throw new OnnxFormatError('ONNX_INVALID_GRAPH', 'ONNX graph has a cycle; it cannot be executed');
  }
  return order;
}

/** The opset version imported for a domain ('' and 'ai.onnx' are the default domain). */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const found = (model.opsetImport ?? []).find(
    (o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'),
  );
  return found ? toNumber(found.version) : undefined;
}

export function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attributeInt(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? toNumber(a.i) : fallback;
}

export function attributeFloat(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? (a.f ?? fallback) : fallback;
}

export function attributeInts(node: NodeProto, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

export const AttributeType = onnx.AttributeProto.AttributeType;

/** Gives every node a unique name, so reports and plans can refer to nodes by name. */
export function nameNodes(graph: GraphProto): void {
  const seen = new Set<string>();
  (graph.node ?? []).forEach((n, index) => {
    let name = n.name || `${n.opType}_${index}`;
    while (seen.has(name)) name = `${name}_${index}`;
    seen.add(name);
    n.name = name;
  });
}
