// Undo and redo of labels and marks. Each change is kept as the values it replaced and the
// values it set, object by object, so undoing one tab's change never touches what another
// tab saved meanwhile on other objects.

const done = [];
const undone = [];
const LIMIT = 200;

export function record(change) {
  // change: { store: 'labels' | 'marks', before: {id: value|null}, after: {id: value|null}, what }
  done.push(change);
  if (done.length > LIMIT) done.shift();
  undone.length = 0;
}

export async function undo(apply) {
  // apply(store, values) saves the values; a change that fails to save stays to undo
  const change = done[done.length - 1];
  if (!change) return null;
  await apply(change.store, change.before);
  undone.push(done.pop());
  return change;
}

export async function redo(apply) {
  const change = undone[undone.length - 1];
  if (!change) return null;
  await apply(change.store, change.after);
  done.push(undone.pop());
  return change;
}

export function counts() {
  return { undo: done.length, redo: undone.length };
}
