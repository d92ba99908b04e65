// Which panels changed since they were last published: the view server sends only those
// (a panel is replaced whole on the page). A panel may say which of its parts count as a
// change (`comparable`): the servers panel leaves uptime out, which the page advances itself,
// so an idle system sends nothing.

export type Panels = Readonly<Record<string, unknown>>;

export class PublishedPanels {
  private readonly published = new Map<string, string>();
  private readonly comparable: Readonly<Record<string, (panel: unknown) => unknown>>;

  constructor(comparable: Readonly<Record<string, (panel: unknown) => unknown>> = {}) {
    this.comparable = comparable;
  }

  /** The panels of `panels` that differ from what was published, now marked published. */
  changed(panels: Panels): Record<string, unknown> {
    const changed: Record<string, unknown> = {};
    for (const [name, panel] of Object.entries(panels)) {
      const key = JSON.stringify(this.comparable[name]?.(panel) ?? panel);
      if (this.published.get(name) === key) continue;
      this.published.set(name, key);
      changed[name] = panel;
    }
    return changed;
  }

  /** Forgets what was published (a write was lost, or a new host link): the next changed() sends everything. */
  forget(): void {
    this.published.clear();
  }
}
