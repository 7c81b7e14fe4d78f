/** A tiny logger port; the engine reports through it and its event stream only. */
export interface EngineLogger {
  error(message: string, detail?: unknown): void;
}
