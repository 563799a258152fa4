import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';

export interface AsyncState<T> {
  data: ShallowRef<T | undefined>;
  loading: Ref<boolean>;
  error: Ref<string | null>;
  run: () => Promise<T | undefined>;
}

/** Loading / error / data for one request, so every view shows the same three states the same way. */
export function useAsync<T>(load: () => Promise<T>): AsyncState<T> {
  const data = shallowRef<T>();
  const loading = ref(false);
  const error = ref<string | null>(null);
  let generation = 0;
  async function run(): Promise<T | undefined> {
    const mine = ++generation;
    loading.value = true;
    error.value = null;
    try {
      const value = await load();
      // a slower, older request must not overwrite a newer answer
      if (mine === generation) data.value = value;
      return value;
    } catch (err) {
      if (mine === generation) error.value = errorMessage(err);
      return undefined;
    } finally {
      if (mine === generation) loading.value = false;
    }
  }
  return { data, loading, error, run };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
