import { describe, it, expect } from 'vitest';
import { baseName, findNode, getProperty, node, removeChild, removeProperty, setProperty, unitAddress } from './tree.js';
import { fdtValue } from './values.js';

function sample() {
  return node('', { model: fdtValue.string('m') }, [
    node('chosen', { bootargs: fdtValue.string('quiet') }),
    node('soc', {}, [node('serial@10000000'), node('plic@c000000'), node('plic')]),
    node('memory@80000000'),
  ]);
}

describe('tree', () => {
  it('node keeps the order of properties and children', () => {
    const built = node('cpu@0', { b: fdtValue.u32(1), a: fdtValue.empty() }, [node('x'), node('y')]);
    expect(built.properties.map((property) => property.name)).toEqual(['b', 'a']);
    expect(built.children.map((child) => child.name)).toEqual(['x', 'y']);
  });

  it('findNode resolves absolute paths and "/" to the root', () => {
    const root = sample();
    expect(findNode(root, '/')).toBe(root);
    expect(findNode(root, '/chosen')?.name).toBe('chosen');
    expect(findNode(root, '/soc/plic@c000000')?.name).toBe('plic@c000000');
    expect(findNode(root, '/soc/')?.name).toBe('soc');
    expect(findNode(root, '/nothing')).toBeUndefined();
    expect(findNode(root, '/soc/plic@0')).toBeUndefined();
    expect(findNode(root, 'chosen')).toBeUndefined();
  });

  it('findNode matches a name without unit address as libfdt does, preferring an exact name', () => {
    const root = sample();
    expect(findNode(root, '/memory')?.name).toBe('memory@80000000');
    expect(findNode(root, '/soc/serial')?.name).toBe('serial@10000000');
    expect(findNode(root, '/soc/plic')?.name).toBe('plic');
  });

  it('getProperty and setProperty replace or append', () => {
    const chosen = findNode(sample(), '/chosen')!;
    expect(getProperty(chosen, 'bootargs')).toEqual(fdtValue.string('quiet'));
    setProperty(chosen, 'bootargs', fdtValue.string('loud'));
    setProperty(chosen, 'stdout-path', fdtValue.string('/soc/serial@10000000'));
    expect(chosen.properties.map((property) => property.name)).toEqual(['bootargs', 'stdout-path']);
    expect(getProperty(chosen, 'bootargs')).toEqual(fdtValue.string('loud'));
    expect(getProperty(chosen, 'missing')).toBeUndefined();
  });

  it('removeProperty and removeChild report whether something was removed', () => {
    const root = sample();
    expect(removeProperty(root, 'model')).toBe(true);
    expect(removeProperty(root, 'model')).toBe(false);
    expect(removeChild(root, 'chosen')).toBe(true);
    expect(removeChild(root, 'chosen')).toBe(false);
    expect(removeChild(root, 'memory')).toBe(false);
    expect(root.children.map((child) => child.name)).toEqual(['soc', 'memory@80000000']);
  });

  it('baseName and unitAddress split a node name at @', () => {
    expect(baseName('memory@80000000')).toBe('memory');
    expect(unitAddress('memory@80000000')).toBe('80000000');
    expect(baseName('chosen')).toBe('chosen');
    expect(unitAddress('chosen')).toBeUndefined();
  });
});
