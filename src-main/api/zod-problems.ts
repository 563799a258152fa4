import type { z } from 'zod';
import { renderPath } from '../sweeps/spec';

/**
 * zod issues as the `path: message` lines every NormLab error lists in `problems`, with the path written as the
 * caller wrote it (`filter.status[1]`, `grid["dp.maxGradNorm"][0]`); `root` prefixes every path (the argument's
 * name), and an issue about the whole value is reported at the root.
 */
export function zodProblems(error: z.ZodError, root?: string): string[] {
  return error.issues.map((issue) => {
    const path = root === undefined ? issue.path : [root, ...issue.path];
    return `${path.length === 0 ? '(request)' : renderPath(path)}: ${issue.message}`;
  });
}
