import { onBeforeUnmount, onMounted, shallowRef, watch, type Ref } from 'vue';
import * as echarts from 'echarts/core';
import { LineChart, HeatmapChart } from 'echarts/charts';
import {
  GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, DataZoomComponent, TitleComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsCoreOption } from 'echarts/core';

// Only what the app draws is registered, which keeps the renderer bundle small.
echarts.use([LineChart, HeatmapChart, GridComponent, TooltipComponent, LegendComponent, VisualMapComponent,
  DataZoomComponent, TitleComponent, CanvasRenderer]);

/**
 * Binds an echarts instance to an element and keeps it in sync with a reactive option. Updates are merged
 * (`notMerge: false` only for structural changes) and lazily applied so live data does not block input.
 */
export function useEChart(el: Ref<HTMLElement | null>, option: Ref<EChartsCoreOption | null>) {
  const chart = shallowRef<echarts.ECharts | null>(null);
  let observer: ResizeObserver | null = null;

  onMounted(() => {
    if (!el.value) return;
    chart.value = echarts.init(el.value, undefined, { renderer: 'canvas' });
    if (option.value) chart.value.setOption(option.value, { notMerge: true });
    if (typeof ResizeObserver !== 'undefined') {
      observer = new ResizeObserver(() => chart.value?.resize());
      observer.observe(el.value);
    }
  });

  watch(option, (next) => {
    if (chart.value && next) chart.value.setOption(next, { notMerge: true, lazyUpdate: true });
  });

  onBeforeUnmount(() => {
    observer?.disconnect();
    chart.value?.dispose();
    chart.value = null;
  });

  return { chart };
}
