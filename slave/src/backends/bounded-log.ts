/** Keeps the last `cap` characters of a stream of text (a console, a stderr). */
export class BoundedLog {
  private text = '';
  private dropped = 0;
  constructor(private readonly cap = 256 * 1024) {}
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.cap) {
      this.dropped += this.text.length - this.cap;
      this.text = this.text.slice(-this.cap);
    }
  }
  toString(): string {
    return this.dropped ? `[… ${this.dropped} earlier characters dropped]\n${this.text}` : this.text;
  }
}
