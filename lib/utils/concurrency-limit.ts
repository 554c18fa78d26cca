/** Runs async tasks with at most `max` of them at once; the others wait their turn, in order. @internal */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // A waiting task takes the slot over; otherwise it is free.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
