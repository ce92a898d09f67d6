// One benchmark's result: a markdown table and the floors the issue sets, each checked.
export interface Floor {
  what: string;
  ok: boolean;
  value: string;
}

export interface Bench {
  title: string;
  header: string[];
  rows: string[][];
  floors: Floor[];
  notes?: string[];
}
