import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router';

declare module 'vue-router' {
  interface RouteMeta {
    /** The window title's first part. */
    title?: string;
  }
}

export const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/runs' },
  { path: '/sweeps/new', name: 'sweep-builder', component: () => import('./views/SweepBuilderView.vue'), meta: { title: 'New sweep' } },
  { path: '/runs', name: 'runs', component: () => import('./views/RunsView.vue'), meta: { title: 'Queue & runs' } },
  { path: '/runs/:id', name: 'run-detail', component: () => import('./views/RunDetailView.vue'), props: (r) => ({ id: Number(r.params.id) }), meta: { title: 'Run' } },
  { path: '/compare', name: 'compare', component: () => import('./views/CompareView.vue'), meta: { title: 'Compare' } },
  { path: '/kernel-stats', name: 'kernel-stats', component: () => import('./views/KernelStatsView.vue'), meta: { title: 'Kernel statistics' } },
  { path: '/paper-table1', name: 'paper-table1', component: () => import('./views/PaperTable1View.vue'), meta: { title: 'Paper Table 1' } },
  { path: '/export', name: 'export', component: () => import('./views/ExportView.vue'), meta: { title: 'Export' } },
  { path: '/:pathMatch(.*)*', redirect: '/runs' },
];

// Hash history: the desktop window loads the bundle from file://, where path-based URLs cannot be served.
export const router = createRouter({ history: createWebHashHistory(), routes });

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · NormLab` : 'NormLab';
});
